"""ISAPI and GB/T 28181 cases written from the formats' public text, not from the code.

ISAPI: Hikvision "ISAPI Event" notification (EventNotificationAlert, keep-alive with
videoloss/inactive/activePostCount 0, ANPR block with its pictureInfoList, dynChannelID
of NVR channels, DetectionRegionList). GB/T 28181-2016: MANSCDP alarm Notify (A.2.5,
AlarmTime local time, Info/AlarmTypeParam/EventType 1 enter / 2 leave for intrusion),
bodies in GB2312.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from adapters import registry
from adapters.base import HEARTBEAT_METRIC, AdapterError, Origin
from core.model import SourceSystem
from hub.ingest.pipeline import adapt_message

NOW = datetime(2025, 3, 14, 12, 0, tzinfo=UTC)
ISAPI_TOPIC = "city/police/xinhua-5th/safecity/native/isapi"
GB_TOPIC = "city/police/xinhua-5th/safecity/native/gb28181"
NS = 'xmlns="http://www.hikvision.com/ver20/XMLSchema"'


def isapi(body: str, when: str = "2025-03-14T19:30:00+08:00") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<EventNotificationAlert version="2.0" {NS}>'
        "<ipAddress>10.20.5.40</ipAddress><macAddress>44:19:b6:6d:24:90</macAddress>"
        f"<dateTime>{when}</dateTime>{body}</EventNotificationAlert>"
    ).encode()


def gb(
    info: str = "",
    when: str = "2025-03-14T23:12:45",
    enc: str = "GB2312",
    desc: str = "入侵检测报警",
) -> bytes:
    text = (
        f'<?xml version="1.0" encoding="{enc}"?>\n<Notify><CmdType>Alarm</CmdType><SN>17</SN>'
        "<DeviceID>34020000001320000001</DeviceID><AlarmPriority>2</AlarmPriority>"
        f"<AlarmMethod>5</AlarmMethod><AlarmTime>{when}</AlarmTime>"
        f"<AlarmDescription>{desc}</AlarmDescription><Info>{info}</Info></Notify>"
    )
    return text.encode("gbk" if enc.upper() in ("GB2312", "GBK") else "utf-8")


def test_isapi_keep_alive_is_a_heartbeat_not_an_event() -> None:
    """A camera with nothing to report sends videoloss, inactive, activePostCount 0."""
    beat = isapi(
        "<activePostCount>0</activePostCount><eventType>videoloss</eventType>"
        "<eventState>inactive</eventState><eventDescription>videoloss alarm</eventDescription>"
    )
    out = adapt_message(ISAPI_TOPIC, beat, NOW)
    assert out.events == [] and out.letters == []
    (seen,) = out.readings
    assert (seen.sensor, seen.metric, seen.time) == ("4419b66d2490", HEARTBEAT_METRIC, NOW)
    real_loss = isapi(
        "<activePostCount>1</activePostCount><eventType>videoloss</eventType>"
        "<eventState>active</eventState>"
    )
    (ev,) = adapt_message(ISAPI_TOPIC, real_loss, NOW).events
    assert ev.kind == "video_loss"


def test_isapi_anpr_pictures_nested_under_anpr_become_media() -> None:
    body = (
        "<channelID>1</channelID><activePostCount>1</activePostCount><eventType>ANPR</eventType>"
        "<eventState>active</eventState><ANPR><licensePlate>川A12345</licensePlate>"
        "<pictureInfoList><pictureInfo><fileName>licensePlatePicture.jpg</fileName>"
        "<type>licensePlatePicture</type></pictureInfo><pictureInfo>"
        "<fileName>detectionPicture.jpg</fileName><type>detectionPicture</type></pictureInfo>"
        "</pictureInfoList></ANPR>"
    )
    (ev,) = adapt_message("city/traffic/renmin-2nd/traffic/native/isapi", isapi(body), NOW).events
    assert [(m.kind, m.uri) for m in ev.media] == [
        ("plate", "isapi-part:licensePlatePicture.jpg"),
        ("picture", "isapi-part:detectionPicture.jpg"),
    ]
    assert "pictureInfoList" not in ev.attributes.get("anpr_extra", {})


def coordinates(*points: tuple[int, int]) -> str:
    """An ISAPI RegionCoordinatesList's entries."""
    return "".join(f"<RegionCoordinates><positionX>{x}</positionX><positionY>{y}</positionY>"
                   "</RegionCoordinates>" for x, y in points)


def test_isapi_dyn_channel_gps_and_regions_are_normalised() -> None:
    body = (
        "<channelID>1</channelID><dynChannelID>7</dynChannelID>"
        "<activePostCount>1</activePostCount><eventType>fielddetection</eventType>"
        "<eventState>active</eventState><GPSInfo><longitude>104.0648</longitude>"
        "<latitude>30.6586</latitude></GPSInfo><DetectionRegionList><DetectionRegionEntry>"
        "<regionID>2</regionID><sensitivityLevel>60</sensitivityLevel>"
        "<detectionTarget>human</detectionTarget><RegionCoordinatesList>"
        f"{coordinates((10, 20), (30, 40), (50, 5))}"
        "</RegionCoordinatesList></DetectionRegionEntry></DetectionRegionList>"
    )
    (ev,) = adapt_message(ISAPI_TOPIC, isapi(body), NOW).events
    assert ev.kind == "intrusion" and ev.attributes["channel"] == 7
    assert ev.location is not None and (ev.location.lat, ev.location.lon) == (30.6586, 104.0648)
    assert ev.attributes["regions"] == [
        {"id": 2, "sensitivity": 60, "target": "human", "points": [[10, 20], [30, 40], [50, 5]]}
    ]
    assert "DetectionRegionList" not in ev.attributes.get("extra", {})


def test_isapi_line_crossing_keeps_its_line_and_direction() -> None:
    """linedetection: the region entry is the line (two points) and its crossing direction."""
    body = (
        "<channelID>2</channelID><activePostCount>1</activePostCount>"
        "<eventType>linedetection</eventType><eventState>active</eventState>"
        "<DetectionRegionList><DetectionRegionEntry><regionID>1</regionID>"
        "<sensitivityLevel>50</sensitivityLevel><direction>left-right</direction>"
        "<RegionCoordinatesList>"
        f"{coordinates((100, 400), (900, 420))}"
        "</RegionCoordinatesList></DetectionRegionEntry></DetectionRegionList>"
    )
    (ev,) = adapt_message(ISAPI_TOPIC, isapi(body), NOW).events
    assert ev.kind == "line_crossing" and ev.attributes["channel"] == 2
    assert ev.attributes["regions"] == [
        {"id": 1, "sensitivity": 50, "direction": "left-right", "points": [[100, 400], [900, 420]]}
    ]


@pytest.mark.parametrize(
    ("gps", "where"),
    [
        ("<divisionNS>S</divisionNS><divisionEW>W</divisionEW><latitude>33.45</latitude>"
         "<longitude>70.66</longitude>", (-33.45, -70.66)),
        ("<latitude>0</latitude><longitude>0</longitude>", None),  # no fix
    ],
)
def test_isapi_gps_hemispheres_and_no_fix(gps: str, where: tuple[float, float] | None) -> None:
    body = (
        "<activePostCount>1</activePostCount><eventType>VMD</eventType>"
        f"<eventState>active</eventState><GPSInfo>{gps}</GPSInfo>"
    )
    (ev,) = adapt_message(ISAPI_TOPIC, isapi(body), NOW).events
    assert (None if ev.location is None else (ev.location.lat, ev.location.lon)) == where


def test_isapi_anpr_pictures_beside_anpr_become_media_too() -> None:
    body = (
        "<activePostCount>1</activePostCount><eventType>ANPR</eventType>"
        "<eventState>active</eventState><ANPR><licensePlate>川A12345</licensePlate></ANPR>"
        "<pictureInfoList><pictureInfo><type>licensePlatePicture</type>"
        "<pictureURL>http://10.20.5.40/picture/1.jpg</pictureURL></pictureInfo></pictureInfoList>"
    )
    (ev,) = adapt_message("city/traffic/renmin-2nd/traffic/native/isapi", isapi(body), NOW).events
    assert [(m.kind, m.uri) for m in ev.media] == [("plate", "http://10.20.5.40/picture/1.jpg")]


@pytest.mark.parametrize("code,direction", [("1", "enter"), ("2", "leave")])
def test_gb28181_intrusion_keeps_its_direction(code: str, direction: str) -> None:
    info = f"<AlarmType>6</AlarmType><AlarmTypeParam><EventType>{code}</EventType></AlarmTypeParam>"
    (ev,) = adapt_message(GB_TOPIC, gb(info), NOW).events
    assert ev.kind == "intrusion" and ev.attributes["direction"] == direction


def test_gb28181_local_time_is_read_in_the_configured_zone() -> None:
    """AlarmTime has no offset (GB/T 28181 sends local time): China Standard Time by default,
    the device's configured zone otherwise."""
    (ev,) = adapt_message(GB_TOPIC, gb("<AlarmType>2</AlarmType>"), NOW).events
    assert ev.occurred_at == datetime(2025, 3, 14, 15, 12, 45, tzinfo=UTC)
    urumqi = timezone(timedelta(hours=6))
    (ev,) = adapt_message(GB_TOPIC, gb("<AlarmType>2</AlarmType>"), NOW, urumqi).events
    assert ev.occurred_at == datetime(2025, 3, 14, 17, 12, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    "when",
    ["9999-12-31T23:59:59", "1900-01-01T00:00:00", "0001-01-01T00:00:00", "2100-01-01T08:00:00"],
)
def test_gb28181_implausible_dates_are_clean_rejections(when: str) -> None:
    out = adapt_message(GB_TOPIC, gb("<AlarmType>2</AlarmType>", when=when), NOW)
    assert out.events == [] and "AlarmTime" in out.letters[0].reason


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:59:59-05:00", "9999-12-31T23:59:59+14:00", "1900-01-01T00:00:00Z"]
)
def test_isapi_implausible_dates_are_clean_rejections(when: str) -> None:
    body = "<activePostCount>1</activePostCount><eventType>VMD</eventType>"
    with pytest.raises(AdapterError, match="dateTime"):
        registry.get("isapi").adapt(
            isapi(body, when), Origin("police", "x", SourceSystem.safecity, NOW)
        )


def test_gbk_bytes_under_a_gb2312_label_decode_as_gbk() -> None:
    """镕 (U+9555) is in GBK but not in GB2312: devices label such text GB2312 anyway."""
    (ev,) = adapt_message(GB_TOPIC, gb("<AlarmType>2</AlarmType>", desc="朱镕基路报警"), NOW).events
    assert ev.attributes["description"] == "朱镕基路报警"


def test_utf8_bytes_under_a_gb2312_label_are_not_stored_as_mojibake() -> None:
    payload = gb("<AlarmType>2</AlarmType>", enc="UTF-8").replace(b"UTF-8", b"GB2312", 1)
    out = adapt_message(GB_TOPIC, payload, NOW)
    if out.events:
        assert out.events[0].attributes["description"] == "入侵检测报警"
    else:
        assert out.letters[0].reason.startswith("invalid_encoding")


@pytest.mark.parametrize(
    "payload",
    [
        # GBK bytes declared UTF-8
        gb("<AlarmType>2</AlarmType>").replace(b"GB2312", b"UTF-8", 1),
        # GB2312 label, bytes that are neither GBK nor UTF-8
        gb("<AlarmType>2</AlarmType>", desc="A").replace(b">A<", b">\x81\x20<", 1),
        # an encoding devices do not use
        gb("<AlarmType>2</AlarmType>", enc="UTF-8").replace(b"UTF-8", b"ISO-2022-JP", 1),
    ],
)
def test_wrong_encodings_are_rejected_as_invalid_encoding(payload: bytes) -> None:
    out = adapt_message(GB_TOPIC, payload, NOW)
    assert out.events == [] and out.letters[0].reason.startswith("invalid_encoding")


@pytest.mark.parametrize(
    "body",
    [
        "<licensePlate>川A\u202e54321</licensePlate>",  # right-to-left override
        "<licensePlate>川A\u200b54321</licensePlate>",  # zero-width space
        "<licensePlate>川A1234567890123456</licensePlate>",  # longer than any plate
    ],
)
def test_hostile_plates_are_refused_naming_the_field(body: str) -> None:
    xml = isapi(
        "<activePostCount>1</activePostCount><eventType>ANPR</eventType>"
        f"<eventState>active</eventState><ANPR>{body}</ANPR>"
    )
    out = adapt_message("city/traffic/renmin-2nd/traffic/native/isapi", xml, NOW)
    assert out.events == [] and "licensePlate" in out.letters[0].reason


def test_control_characters_in_names_are_refused() -> None:
    body = (
        "<activePostCount>1</activePostCount><eventType>VMD</eventType>"
        "<channelName>Gate&#x85;1</channelName>"
    )
    out = adapt_message(ISAPI_TOPIC, isapi(body), NOW)
    assert out.events == [] and "channelName" in out.letters[0].reason


def test_gb28181_keepalive_is_a_heartbeat_not_an_event() -> None:
    """GB/T 28181-2016 9.6: devices send Notify/Keepalive with Status OK periodically."""
    keepalive = (
        b'<?xml version="1.0" encoding="GB2312"?>\n<Notify><CmdType>Keepalive</CmdType>'
        b"<SN>43</SN><DeviceID>34020000001320000001</DeviceID><Status>OK</Status></Notify>"
    )
    out = adapt_message(GB_TOPIC, keepalive, NOW)
    assert out.events == [] and out.letters == []
    (seen,) = out.readings
    assert (seen.sensor, seen.metric, seen.time) == ("34020000001320000001", HEARTBEAT_METRIC, NOW)


@pytest.mark.parametrize(
    ("method", "alarm_type", "kind"),
    [  # GB/T 28181-2016 A.2.5: AlarmMethod values and, per method, AlarmType values
        ("2", "1", "video_loss"),  # 设备报警: 1 视频丢失报警
        ("2", "2", "tampering"),  # 2 设备防拆报警
        ("2", "3", "disk_full"),  # 3 存储设备磁盘满报警
        ("5", "2", "motion"),  # 视频报警: 2 运动目标检测报警
        ("5", "5", "line_crossing"),  # 5 绊线检测报警
        ("5", "8", "loitering"),  # 8 徘徊检测报警
        ("6", "1", "disk_fault"),  # 设备故障报警: 1 存储设备磁盘故障报警
        ("1", "", "phone_alarm"),  # 电话报警 has no types
    ],
)
def test_gb28181_alarm_method_and_type_name_the_kind(
    method: str, alarm_type: str, kind: str
) -> None:
    body = gb(f"<AlarmType>{alarm_type}</AlarmType>" if alarm_type else "")
    body = body.replace(b"<AlarmMethod>5<", f"<AlarmMethod>{method}<".encode())
    (ev,) = adapt_message(GB_TOPIC, body, NOW).events
    assert ev.kind == kind


@pytest.mark.parametrize(("priority", "severity"), [("1", 3), ("2", 2), ("3", 1), ("4", 0)])
def test_gb28181_alarm_priority_one_is_the_most_urgent(priority: str, severity: int) -> None:
    body = gb("<AlarmType>2</AlarmType>").replace(
        b"<AlarmPriority>2</AlarmPriority>", f"<AlarmPriority>{priority}</AlarmPriority>".encode()
    )
    (ev,) = adapt_message(GB_TOPIC, body, NOW).events
    assert int(ev.severity) == severity
