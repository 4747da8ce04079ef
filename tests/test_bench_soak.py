"""The soak's growth figure: a saw does not count as growth, a climb does."""

from __future__ import annotations

from bench.soak import high_water_growth


def point(rss: float, fds: int = 20, threads: int = 3) -> dict[str, float]:
    return {"rss_mib": rss, "fds": fds, "threads": threads}


def test_a_saw_of_the_same_height_is_no_growth() -> None:
    # Climbs 20 MiB, falls back, four times: the last sample sits on a peak, the first on a trough.
    saw = [point(120.0 + 5 * (i % 5)) for i in range(20)]
    assert high_water_growth(saw) == {"rss_mib": 0.0, "fds": 0.0, "threads": 0.0}


def test_a_steady_climb_is_the_difference_of_the_peaks() -> None:
    climb = [point(100.0 + i, fds=20 + i // 5) for i in range(20)]
    # First half peaks at 109 MiB / 21 fds, second half at 119 MiB / 23 fds.
    assert high_water_growth(climb) == {"rss_mib": 10.0, "fds": 2.0, "threads": 0.0}


def test_a_thread_added_in_the_first_half_is_not_growth_but_one_added_later_is() -> None:
    early = [point(50.0, threads=2 if i < 3 else 3) for i in range(10)]
    late = [point(50.0, threads=2 if i < 8 else 3) for i in range(10)]
    assert high_water_growth(early)["threads"] == 0.0
    assert high_water_growth(late)["threads"] == 1.0


def test_too_few_samples_to_compare_is_no_figure_of_growth() -> None:
    assert high_water_growth([point(1.0)]) == {"rss_mib": 0.0, "fds": 0.0, "threads": 0.0}
