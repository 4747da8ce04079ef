"""A checker for Home Assistant MQTT discovery messages, written from Home Assistant's documentation.

Sources (home-assistant.io, read 2026):
- integrations/mqtt, "Discovery topic", "Device discovery payload", "Single component discovery
  payload", "Discovery payload", "Using Availability topics", "Supported abbreviations".
- integrations/sensor.mqtt and binary_sensor.mqtt (required options: ``state_topic``, ``platform``
  in device discovery; ``options`` rules; ``default_entity_id``).
- integrations/sensor "Device class" (device classes with their units) and
  integrations/binary_sensor "Device class"; developers.home-assistant.io sensor state classes.

``check_discovery(topic, payload)`` returns every problem found (empty: accepted by these rules);
``deprecations(payload)`` lists options Home Assistant still reads but has announced to drop.
"""

from __future__ import annotations

import re
from typing import Any

# --- abbreviations (integrations/mqtt, "Supported abbreviations"): the ones that can occur in
# sensor / binary_sensor discovery and in the device and origin blocks.
ABBREVIATIONS = {
    "avty": "availability",
    "avty_mode": "availability_mode",
    "avty_t": "availability_topic",
    "avty_tpl": "availability_template",
    "cmps": "components",
    "def_ent_id": "default_entity_id",
    "dev": "device",
    "dev_cla": "device_class",
    "e": "encoding",
    "en": "enabled_by_default",
    "ent_cat": "entity_category",
    "ent_pic": "entity_picture",
    "exp_aft": "expire_after",
    "frc_upd": "force_update",
    "ic": "icon",
    "json_attr_t": "json_attributes_topic",
    "json_attr_tpl": "json_attributes_template",
    "lrst_val_tpl": "last_reset_value_template",
    "migr_discvry": "migrate_discovery",
    "o": "origin",
    "obj_id": "object_id",
    "off_dly": "off_delay",
    "ops": "options",
    "p": "platform",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "pl_off": "payload_off",
    "pl_on": "payload_on",
    "stat_cla": "state_class",
    "stat_t": "state_topic",
    "sug_dsp_prc": "suggested_display_precision",
    "t": "topic",
    "uniq_id": "unique_id",
    "unit_of_meas": "unit_of_measurement",
    "val_tpl": "value_template",
}
DEVICE_ABBREVIATIONS = {
    "cu": "configuration_url",
    "cns": "connections",
    "ids": "identifiers",
    "mf": "manufacturer",
    "mdl": "model",
    "mdl_id": "model_id",
    "hw": "hw_version",
    "sw": "sw_version",
    "sa": "suggested_area",
    "sn": "serial_number",
}
ORIGIN_ABBREVIATIONS = {"sw": "sw_version", "url": "support_url"}

# Platforms that MQTT discovery supports (integrations/mqtt, ha_platforms / discovery list).
PLATFORMS = {
    "alarm_control_panel", "binary_sensor", "button", "camera", "climate", "cover", "device_automation",
    "device_tracker", "event", "fan", "humidifier", "image", "lawn_mower", "light", "lock", "notify",
    "number", "scene", "select", "sensor", "siren", "switch", "tag", "text", "update", "vacuum", "valve",
    "water_heater",
}  # fmt: skip
# "Supported shared options" of a device discovery payload (inherited by every component).
SHARED_OPTIONS = {
    "availability", "availability_topic", "availability_template", "availability_mode",
    "payload_available", "payload_not_available", "command_topic", "state_topic", "qos", "encoding",
}  # fmt: skip
_ID = re.compile(r"^[a-zA-Z0-9_-]+$")

# integrations/sensor, "Device class": the units each device class accepts.
# None in a set: no unit allowed; a class missing from this table takes any unit.
SENSOR_UNITS: dict[str, set[str | None]] = {
    "absolute_humidity": {"g/m³", "mg/m³"},
    "apparent_power": {"mVA", "VA"},
    "aqi": {None},
    "area": {"m²", "cm²", "km²", "mm²", "in²", "ft²", "yd²", "mi²", "ac", "ha"},
    "atmospheric_pressure": {"cbar", "bar", "hPa", "mmHg", "inHg", "kPa", "mbar", "Pa", "psi"},
    "battery": {"%"},
    "blood_glucose_concentration": {"mg/dL", "mmol/L"},
    "carbon_dioxide": {"ppm"},
    "carbon_monoxide": {"ppm"},
    "current": {"A", "mA"},
    "data_rate": {"bit/s", "kbit/s", "Mbit/s", "Gbit/s", "B/s", "kB/s", "MB/s", "GB/s", "KiB/s", "MiB/s", "GiB/s"},
    "data_size": {
        "bit",
        "kbit",
        "Mbit",
        "Gbit",
        "B",
        "kB",
        "MB",
        "GB",
        "TB",
        "PB",
        "EB",
        "ZB",
        "YB",
        "KiB",
        "MiB",
        "GiB",
        "TiB",
        "PiB",
        "EiB",
        "ZiB",
        "YiB",
    },
    "date": {None},
    "distance": {"km", "m", "cm", "mm", "mi", "nmi", "yd", "in"},
    "duration": {"d", "h", "min", "s", "ms", "µs"},
    "energy": {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"},
    "energy_distance": {"kWh/100km", "Wh/km", "mi/kWh", "km/kWh"},
    "energy_storage": {"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"},
    "enum": {None},
    "frequency": {"Hz", "kHz", "MHz", "GHz"},
    "gas": {"L", "m³", "ft³", "CCF"},
    "humidity": {"%"},
    "illuminance": {"lx"},
    "irradiance": {"W/m²", "BTU/(h⋅ft²)"},
    "moisture": {"%"},
    "nitrogen_dioxide": {"µg/m³"},
    "nitrogen_monoxide": {"µg/m³"},
    "nitrous_oxide": {"µg/m³"},
    "ozone": {"µg/m³"},
    "ph": {None},
    "pm1": {"µg/m³"},
    "pm25": {"µg/m³"},
    "pm10": {"µg/m³"},
    "power_factor": {None, "%"},
    "power": {"mW", "W", "kW", "MW", "GW", "TW"},
    "precipitation": {"cm", "in", "mm"},
    "precipitation_intensity": {"in/d", "in/h", "mm/d", "mm/h"},
    "pressure": {"Pa", "kPa", "hPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi"},
    "reactive_energy": {"varh", "kvarh"},
    "reactive_power": {"var", "kvar"},
    "signal_strength": {"dB", "dBm"},
    "sound_pressure": {"dB", "dBA"},
    "speed": {"ft/s", "in/d", "in/h", "in/s", "km/h", "kn", "m/s", "mph", "mm/d", "mm/s"},
    "sulphur_dioxide": {"µg/m³"},
    "temperature": {"°C", "°F", "K"},
    "timestamp": {None},
    "volatile_organic_compounds": {"µg/m³", "mg/m³"},
    "volatile_organic_compounds_parts": {"ppm", "ppb"},
    "voltage": {"V", "mV", "µV", "kV", "MV"},
    "volume": {"L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF"},
    "volume_flow_rate": {"m³/h", "m³/s", "ft³/min", "L/h", "L/min", "L/s", "gal/min", "mL/s"},
    "volume_storage": {"L", "mL", "gal", "fl. oz.", "m³", "ft³", "CCF"},
    "water": {"L", "gal", "m³", "ft³", "CCF"},
    "weight": {"kg", "g", "mg", "µg", "oz", "lb", "st"},
    "wind_direction": {"°"},
    "wind_speed": {"Beaufort", "ft/s", "km/h", "kn", "m/s", "mph"},
}
SENSOR_DEVICE_CLASSES = {*SENSOR_UNITS, "monetary"}
BINARY_SENSOR_DEVICE_CLASSES = {
    "battery", "battery_charging", "carbon_monoxide", "cold", "connectivity", "door", "garage_door", "gas",
    "heat", "light", "lock", "moisture", "motion", "moving", "occupancy", "opening", "plug", "power",
    "presence", "problem", "running", "safety", "smoke", "sound", "tamper", "update", "vibration", "window",
}  # fmt: skip
# developers.home-assistant.io, sensor entity, "Available state classes".
STATE_CLASSES = {"measurement", "measurement_angle", "total", "total_increasing"}
# developers.home-assistant.io, entity "Generic properties": entity_category.
ENTITY_CATEGORIES = {"config", "diagnostic"}
AVAILABILITY_MODES = {"all", "any", "latest"}


def expand(options: dict[str, Any], table: dict[str, str] = ABBREVIATIONS) -> dict[str, Any]:
    """Abbreviated keys -> full keys, one level; the device, origin and availability blocks too."""
    full: dict[str, Any] = {}
    for key, value in options.items():
        name = table.get(key, key)
        if name == "device" and isinstance(value, dict):
            value = expand(value, DEVICE_ABBREVIATIONS)
        elif name == "origin" and isinstance(value, dict):
            value = expand(value, ORIGIN_ABBREVIATIONS)
        elif name == "availability" and isinstance(value, list):
            value = [expand(v) if isinstance(v, dict) else v for v in value]
        elif name == "components" and isinstance(value, dict):
            value = {k: expand(v) if isinstance(v, dict) else v for k, v in value.items()}
        full[name] = value
    return full


def _template_problems(where: str, template: Any) -> list[str]:
    if not isinstance(template, str):
        return [f"{where}: a template must be a string"]
    try:
        import jinja2
    except ImportError:  # syntax is then not checked; the other rules still are
        return []
    try:
        jinja2.Environment().parse(template)
    except jinja2.TemplateSyntaxError as exc:
        return [f"{where}: template syntax error: {exc.message}"]
    return []


def _check_device(where: str, device: Any) -> list[str]:
    if not isinstance(device, dict):
        return [f"{where}: device must be a mapping"]
    problems = []
    if not device.get("identifiers") and not device.get("connections"):
        problems.append(f"{where}: device needs at least one of identifiers or connections")
    ids = device.get("identifiers")
    if ids is not None and not (
        isinstance(ids, str) or (isinstance(ids, list) and all(isinstance(i, str) and i for i in ids))
    ):
        problems.append(f"{where}: device identifiers must be a string or a list of strings")
    for key in ("name", "via_device", "manufacturer", "model", "model_id", "sw_version", "hw_version"):
        if key in device and device[key] is not None and not isinstance(device[key], str):
            problems.append(f"{where}: device {key} must be a string")
    return problems


def _check_availability(where: str, options: dict[str, Any]) -> list[str]:
    problems = []
    if "availability" in options and "availability_topic" in options:
        problems.append(f"{where}: availability must not be used together with availability_topic")
    entries = options.get("availability")
    if entries is not None:
        if not isinstance(entries, list) or not entries:
            problems.append(f"{where}: availability must be a non-empty list")
        else:
            for i, entry in enumerate(entries):
                if not isinstance(entry, dict) or not isinstance(entry.get("topic"), str) or not entry["topic"]:
                    problems.append(f"{where}: availability[{i}] needs a topic")
                elif "value_template" in entry:
                    problems += _template_problems(
                        f"{where}: availability[{i}].value_template", entry["value_template"]
                    )
    mode = options.get("availability_mode")
    if mode is not None and mode not in AVAILABILITY_MODES:
        problems.append(f"{where}: availability_mode must be one of all, any, latest, not {mode!r}")
    return problems


def _check_sensor(where: str, c: dict[str, Any]) -> list[str]:
    problems = []
    device_class = c.get("device_class")
    unit = c.get("unit_of_measurement")
    if device_class is not None and device_class not in SENSOR_DEVICE_CLASSES:
        problems.append(f"{where}: {device_class!r} is not a sensor device class")
    allowed = SENSOR_UNITS.get(device_class) if isinstance(device_class, str) else None
    if allowed is not None and unit not in allowed:
        shown = sorted(u or "no unit" for u in allowed)
        problems.append(f"{where}: device class {device_class!r} takes {shown}, not {unit!r}")
    state_class = c.get("state_class")
    if state_class is not None and state_class not in STATE_CLASSES:
        problems.append(f"{where}: {state_class!r} is not a state class")
    if state_class == "measurement_angle" and device_class != "wind_direction":
        problems.append(f"{where}: state class measurement_angle is for device class wind_direction")
    if "options" in c:
        options = c["options"]
        if not isinstance(options, list) or not options:
            problems.append(f"{where}: options must be a non-empty list")
        if device_class != "enum":
            problems.append(f"{where}: options need device_class enum")
        if state_class is not None or unit is not None:
            problems.append(f"{where}: options cannot be used with state_class or unit_of_measurement")
    return problems


def _check_binary_sensor(where: str, c: dict[str, Any]) -> list[str]:
    device_class = c.get("device_class")
    if device_class is not None and device_class not in BINARY_SENSOR_DEVICE_CLASSES:
        return [f"{where}: {device_class!r} is not a binary_sensor device class"]
    return []


def _check_entity(where: str, platform: str, c: dict[str, Any], *, device_based: bool) -> list[str]:
    problems = []
    if device_based and not c.get("unique_id"):
        problems.append(f"{where}: an entity component needs a unique_id")
    if platform in ("sensor", "binary_sensor") and not c.get("state_topic"):
        problems.append(f"{where}: {platform} needs a state_topic")
    if "device" in c:
        problems += _check_device(where, c["device"])
    qos = c.get("qos")
    if qos is not None and qos not in (0, 1, 2):
        problems.append(f"{where}: qos must be 0, 1 or 2")
    category = c.get("entity_category")
    if category is not None and category not in ENTITY_CATEGORIES:
        problems.append(f"{where}: entity_category must be config or diagnostic, not {category!r}")
    default_entity_id = c.get("default_entity_id")
    if default_entity_id is not None and (
        not isinstance(default_entity_id, str) or not default_entity_id.startswith(f"{platform}.")
    ):
        problems.append(f"{where}: default_entity_id must be '{platform}.<object id>', not {default_entity_id!r}")
    if "value_template" in c:
        problems += _template_problems(f"{where}: value_template", c["value_template"])
    problems += _check_availability(where, c)
    if platform == "sensor":
        problems += _check_sensor(where, c)
    elif platform == "binary_sensor":
        problems += _check_binary_sensor(where, c)
    return problems


def _parse_topic(topic: str) -> tuple[str, str] | str:
    """(component, object_id) of ``<prefix>/<component>/[<node_id>/]<object_id>/config``, or a problem."""
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[-1] != "config":
        return f"topic {topic!r}: not <prefix>/<component>/[<node_id>/]<object_id>/config"
    component = parts[1]
    if component != "device" and component not in PLATFORMS:
        return f"topic {topic!r}: {component!r} is not a discovery component"
    for level in parts[2:-1]:
        if not _ID.match(level):
            return f"topic {topic!r}: {level!r} may only hold [a-zA-Z0-9_-]"
    if component == "device" and len(parts) != 4:
        return f"topic {topic!r}: device discovery is <prefix>/device/<object_id>/config"
    return component, parts[-2]


def check_discovery(topic: str, payload: dict[str, Any]) -> list[str]:
    """Every problem Home Assistant's documented rules find in one discovery message."""
    parsed = _parse_topic(topic)
    if isinstance(parsed, str):
        return [parsed]
    component, _ = parsed
    if not isinstance(payload, dict):
        return ["payload must be a JSON object"]
    options = expand(payload)
    problems = []
    if "origin" in options:
        origin = options["origin"]
        if not isinstance(origin, dict) or not isinstance(origin.get("name"), str) or not origin["name"]:
            problems.append("origin needs a name")
    if component != "device":
        if "device" in options:
            problems += _check_device(component, options["device"])
        return problems + _check_entity(component, component, options, device_based=False)
    # Device-based discovery: device and origin are mandatory at the root, components below.
    for required in ("device", "origin"):
        if required not in options:
            problems.append(f"device discovery needs {required}")
    if "device" in options:
        problems += _check_device("device", options["device"])
    problems += _check_availability("root", options)
    components = options.get("components")
    if not isinstance(components, dict) or not components:
        return [*problems, "device discovery needs a non-empty components mapping"]
    shared = {k: v for k, v in options.items() if k in SHARED_OPTIONS}
    seen_ids: dict[str, str] = {}
    for cid, raw in components.items():
        where = f"components.{cid}"
        if not _ID.match(str(cid)):
            problems.append(f"{where}: component id may only hold [a-zA-Z0-9_-]")
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        for forbidden in ("device", "origin"):
            if forbidden in raw:
                problems.append(f"{where}: {forbidden} cannot be set per component")
        platform = raw.get("platform")
        if platform not in PLATFORMS:
            problems.append(f"{where}: platform must be a supported platform, not {platform!r}")
            continue
        if len(raw) < 2:
            problems.append(f"{where}: needs at least one option besides platform")
            continue
        merged = {**shared, **raw}
        problems += _check_entity(where, platform, merged, device_based=platform not in ("device_automation", "tag"))
        uid = raw.get("unique_id")
        if isinstance(uid, str):
            if uid in seen_ids:
                problems.append(f"{where}: unique_id {uid!r} already used by {seen_ids[uid]}")
            seen_ids[uid] = where
    return problems


def deprecations(payload: dict[str, Any]) -> list[str]:
    """Options Home Assistant reads but has announced it will stop reading (object_id: 2026.4)."""
    options = expand(payload)
    found = ["object_id"] if "object_id" in options else []
    for cid, component in (options.get("components") or {}).items():
        if isinstance(component, dict) and "object_id" in component:
            found.append(f"components.{cid}.object_id")
    return found
