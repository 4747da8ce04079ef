"""The test infrastructure itself: real services start, answer, restart, and listen on loopback only."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from tests.services import (
    BrokerFactory,
    InfluxDB1,
    InfluxDBFactory,
    MosquittoBroker,
    MqttProbe,
    ProcessGuard,
    ServiceError,
    descendants,
    find_program,
    free_port,
    listening_sockets,
    make_test_certificates,
    parse_ss,
    read_proc,
    require_program,
    wait_for,
    wait_for_async,
)

# --------------------------------------------------------------------------- helpers


def test_free_port_is_bindable_and_never_repeated() -> None:
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == len(ports)
    for port in ports[:3]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
    udp = free_port("udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", udp))


def test_wait_for_returns_the_value_and_is_bounded() -> None:
    calls = iter(range(10))
    assert wait_for(lambda: next(calls) >= 3 and "done", timeout=5, interval=0.001) == "done"
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="waiting for nothing"):
        wait_for(lambda: False, timeout=0.2, what="nothing")
    assert time.monotonic() - start < 2


async def test_wait_for_async_awaits_coroutine_predicates() -> None:
    count = 0

    async def ready() -> bool:
        nonlocal count
        count += 1
        return count >= 3

    assert await wait_for_async(ready, timeout=5, interval=0.001) is True
    with pytest.raises(TimeoutError):
        await wait_for_async(lambda: 0, timeout=0.1)


def test_missing_program_skips_with_install_hint() -> None:
    assert find_program("no-such-program-lvgate") is None
    with pytest.raises(pytest.skip.Exception, match=r"no-such-program-lvgate not installed.*run make system-deps"):
        require_program("no-such-program-lvgate", "no-such-package")


def test_parse_ss() -> None:
    sample = "\n".join(
        [
            'tcp   LISTEN 0      100        127.0.0.1:1883       0.0.0.0:*    users:(("mosquitto",pid=2953,fd=5))',
            "tcp   LISTEN 0      128          0.0.0.0:2024       0.0.0.0:*",
            'tcp   LISTEN 0      511            [::1]:6379          [::]:*    users:(("redis-server",pid=2216,fd=7))',
            'tcp   LISTEN 0      4096              *:8086              *:*    users:(("a",pid=1,fd=3),("b",pid=2,fd=3))',
            'udp   UNCONN 0      0      127.0.0.1%lo:1161       0.0.0.0:*    users:(("snmpd",pid=77,fd=6))',
        ]
    )
    found = parse_ss(sample)
    assert [(s.protocol, s.address, s.port, s.pid, s.loopback) for s in found] == [
        ("tcp", "127.0.0.1", 1883, 2953, True),
        ("tcp", "0.0.0.0", 2024, 0, False),
        ("tcp", "::1", 6379, 2216, True),
        ("tcp", "*", 8086, 1, False),
        ("tcp", "*", 8086, 2, False),
        ("udp", "127.0.0.1", 1161, 77, True),
    ]


# --------------------------------------------------------------------------- Mosquitto


def test_mqtt_publish_subscribe_round_trip(mqtt_broker: MosquittoBroker) -> None:
    with MqttProbe(mqtt_broker.port) as subscriber, MqttProbe(mqtt_broker.port) as publisher:
        subscriber.subscribe("lvgate/test/#", qos=1)
        publisher.publish("lvgate/test/ping", b'{"value": 21.5}', qos=1)
        message = subscriber.wait_for_message("lvgate/test/+", timeout=10)
    assert message.topic == "lvgate/test/ping"
    assert message.payload == b'{"value": 21.5}'
    assert message.qos == 1


def test_broker_restart_keeps_port_and_persistent_retained_messages(mqtt_broker_factory: BrokerFactory) -> None:
    broker = mqtt_broker_factory(persistence=True)
    port, first_pid = broker.port, broker.pid
    with MqttProbe(port) as publisher:
        publisher.publish("lvgate/site/room/gw/availability", "online", qos=1, retain=True)

    broker.restart()
    assert broker.port == port
    assert broker.pid != first_pid
    old = read_proc(first_pid)
    assert old is None or not old.alive
    with MqttProbe(port) as subscriber:
        subscriber.subscribe("lvgate/#")
        message = subscriber.wait_for_message("lvgate/site/room/gw/availability", timeout=10)
    assert message.retain
    assert message.text() == "online"
    assert (broker.persistence_dir / "mosquitto.db").exists()


def test_broker_without_persistence_forgets_retained_messages_and_can_be_killed(
    mqtt_broker_factory: BrokerFactory,
) -> None:
    broker = mqtt_broker_factory()
    with MqttProbe(broker.port) as publisher:
        publisher.publish("t/retained", "x", qos=1, retain=True)
    assert broker.kill() == -signal.SIGKILL
    assert not broker.running
    broker.start()
    with MqttProbe(broker.port) as subscriber:
        subscriber.subscribe("t/#")
        with pytest.raises(TimeoutError):
            subscriber.wait_for_message("t/#", timeout=0.5)


def test_broker_tls_listener(mqtt_broker_factory: BrokerFactory, tmp_path: Path) -> None:
    tls = make_test_certificates(tmp_path / "pki")
    broker = mqtt_broker_factory(tls=tls)
    assert broker.tls_port is not None
    with MqttProbe(broker.tls_port, host="localhost", tls_ca=tls.cafile) as tls_client, MqttProbe(broker.port) as plain:
        tls_client.subscribe("secure/#")
        plain.publish("secure/x", "over tls", qos=1)
        assert tls_client.wait_for_message("secure/x", timeout=10).text() == "over tls"


def test_broker_start_failure_reports_its_log(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "bad", extra_config=["no_such_option on"])
    with pytest.raises(ServiceError, match=r"(?s)exited with .*no_such_option"):
        broker.start(timeout=10)
    assert not broker.running


# --------------------------------------------------------------------------- InfluxDB 1.x


def test_influxdb_write_then_query_returns_value_and_timestamp(influxdb: InfluxDB1, influxdb_database: str) -> None:
    ts_ns = 1_764_777_600_123_456_789
    influxdb.write(influxdb_database, [f"ups,device=ups-1,unit=V input_voltage=229.5 {ts_ns}"])
    body = influxdb.query(influxdb_database, "SELECT input_voltage FROM ups WHERE device = 'ups-1'", epoch="ns")
    series = body["results"][0]["series"][0]
    assert series["name"] == "ups"
    assert series["values"] == [[ts_ns, 229.5]]
    rows = influxdb.rows(influxdb_database, "SELECT * FROM ups")
    assert rows == [{"time": ts_ns, "device": "ups-1", "unit": "V", "input_voltage": 229.5, "_measurement": "ups"}]


def test_influxdb_reports_errors(influxdb: InfluxDB1, influxdb_database: str) -> None:
    with pytest.raises(ServiceError, match="HTTP 400"):
        influxdb.write(influxdb_database, "not line protocol at all")
    with pytest.raises(ServiceError, match="error"):
        influxdb.query(influxdb_database, "SELEKT 1")


def test_influxdb_restart_keeps_ports_and_data(influxdb_factory: InfluxDBFactory) -> None:
    server = influxdb_factory()
    http_port, rpc_port = server.http_port, server.rpc_port
    server.create_database("keep")
    server.write("keep", "t v=1i 1000000000", precision="ns")
    server.restart()
    assert (server.http_port, server.rpc_port) == (http_port, rpc_port)
    assert server.rows("keep", "SELECT v FROM t") == [{"time": 1000000000, "v": 1, "_measurement": "t"}]
    server.stop()
    assert not server.running


# --------------------------------------------------------------------------- loopback only


def test_services_listen_on_loopback_only(mqtt_broker: MosquittoBroker, influxdb: InfluxDB1) -> None:
    broker_sockets = mqtt_broker.listening()
    assert {(s.protocol, s.port) for s in broker_sockets} == {("tcp", mqtt_broker.port)}
    influx_sockets = influxdb.listening()
    assert {(s.protocol, s.port) for s in influx_sockets} == {("tcp", influxdb.http_port), ("tcp", influxdb.rpc_port)}
    for sock in broker_sockets + influx_sockets:
        assert sock.address == "127.0.0.1", sock
    # and nothing of ours elsewhere: every socket that any process started by this test run listens on
    ours = {p.pid for p in descendants(os.getpid())}
    exposed = [s for s in listening_sockets(ours) if not s.loopback]
    assert exposed == []


# --------------------------------------------------------------------------- processes


def test_process_guard_captures_output_and_exit_status(process_guard: ProcessGuard) -> None:
    proc = process_guard.start([sys.executable, "-c", "import sys; print('hello'); print('oops', file=sys.stderr)"])
    assert proc.wait(timeout=30) == 0
    assert proc.stdout_text() == "hello\n"
    assert proc.stderr_text() == "oops\n"
    assert proc.stdout_path.parent == proc.stderr_path.parent


def test_terminate_escalates_to_sigkill(process_guard: ProcessGuard) -> None:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready'); time.sleep(60)"
    proc = process_guard.start([sys.executable, "-c", code], name="stubborn")
    proc.wait_for_output("ready", timeout=30)
    start = time.monotonic()
    assert proc.terminate(timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - start < 10


def test_wait_for_output_fails_fast_when_the_process_exits(process_guard: ProcessGuard) -> None:
    proc = process_guard.start([sys.executable, "-c", "raise SystemExit(3)"], name="quitter")
    with pytest.raises(ServiceError, match="exited with 3"):
        proc.wait_for_output("never", timeout=30)


def test_leftovers_finds_children_that_outlive_their_parent(process_guard: ProcessGuard) -> None:
    # The parent starts one child in its session and one that escapes with setsid, then exits.
    code = (
        "import subprocess, sys\n"
        "a = subprocess.Popen(['sleep', '60'])\n"
        "b = subprocess.Popen(['sleep', '61'], start_new_session=True)\n"
        "print(a.pid, b.pid, flush=True)\n"
    )
    parent = process_guard.start([sys.executable, "-c", code], name="leaky")
    assert parent.wait(timeout=30) == 0
    in_session, escaped = (int(x) for x in parent.stdout_text().split())
    left = {p.pid for p in parent.leftovers()}
    assert {in_session, escaped} <= left, parent.leftovers()
    killed = parent.kill_leftovers()
    assert {p.pid for p in killed} >= {in_session, escaped}
    assert parent.leftovers() == []


def test_clean_process_has_no_leftovers(process_guard: ProcessGuard) -> None:
    code = "import subprocess; subprocess.run(['true'], check=True)"
    proc = process_guard.start([sys.executable, "-c", code], name="tidy")
    assert proc.wait(timeout=30) == 0
    assert proc.leftovers() == []


def test_process_guard_stops_everything_at_teardown(tmp_path: Path) -> None:
    guard = ProcessGuard(tmp_path / "p")
    proc = guard.start(["sleep", "60"])
    child_code = "import subprocess, time; subprocess.Popen(['sleep', '62']); print('up', flush=True); time.sleep(60)"
    parent = guard.start([sys.executable, "-c", child_code], name="parent")
    parent.wait_for_output("up", timeout=30)
    children = parent.leftovers()
    assert len(children) == 1
    guard.stop_all(timeout=5)
    assert not proc.is_running() and not parent.is_running()
    gone = read_proc(children[0].pid)
    assert gone is None or not gone.alive


def test_stopped_service_leaves_no_process(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "m")
    with broker:
        pid = broker.pid
        assert broker.process is not None and broker.process.leftovers() == []
    assert not broker.running
    gone = read_proc(pid)
    assert gone is None or not gone.alive
    assert all(p.pid != pid for p in descendants(os.getpid()))


@pytest.mark.skipif(sys.platform != "linux", reason="/proc is Linux only")
def test_read_proc_of_self() -> None:
    me = read_proc(os.getpid())
    assert me is not None
    assert me.ppid == os.getppid()
    assert me.alive
