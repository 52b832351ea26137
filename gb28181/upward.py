"""What a cascade sends up unasked: alarms (MESSAGE or NOTIFY Alarm) and catalog changes
(NOTIFY Catalog) for the upper's subscriptions (GB/T 28181-2016 9.4, 9.11, annex A.2.5).

Pure logic: the alarm body from a stored event, the subscription an upper asked for, and
the catalog items (ADD / DEL / UPDATE / ON / OFF) between two views of the shared channels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from adapters.gb28181 import METHODS, TYPES
from gb28181 import manscdp
from gb28181.transport import Peer

#: cityhub severity (0 info .. 3 critical) -> AlarmPriority (1 most urgent .. 4).
PRIORITY_OF = {3: 1, 2: 2, 1: 3, 0: 4}
_KIND_CODES = {kind: codes for codes, kind in TYPES.items()}
_METHOD_CODES = {f"{name}_alarm": code for code, name in METHODS.items()}


@dataclass(frozen=True)
class SharedChannel:
    """A camera one department shares with an upper platform, as the upper sees it."""

    channel_id: str  #: the ID the upper sees
    camera_id: str
    department: str
    name: str
    status: str = "ON"
    civil_code: str | None = None
    lat: float | None = None
    lon: float | None = None
    manufacturer: str | None = None
    model: str | None = None
    playback: bool = False  #: the upper may ask for the recordings, too


@dataclass(frozen=True)
class UpwardAlarm:
    event_id: str
    channel_id: str  #: as the upper knows the camera
    camera_id: str
    department: str
    occurred_at: datetime
    kind: str
    severity: int
    description: str = ""
    lat: float | None = None
    lon: float | None = None
    received_at: datetime | None = field(default=None, compare=False)

    @property
    def priority(self) -> int:
        return PRIORITY_OF.get(self.severity, 4)

    @property
    def codes(self) -> tuple[int, int | None]:
        """(AlarmMethod, AlarmType): the GB code of a kind that came from one, else
        video (5) for a camera's analytics and 7 (other) for anything else."""
        if self.kind in _KIND_CODES:
            return _KIND_CODES[self.kind]
        if self.kind in _METHOD_CODES:
            return _METHOD_CODES[self.kind], None
        return 7, None


def alarm_body(sn: int, alarm: UpwardAlarm, zone: str) -> bytes:
    """A Notify/Alarm body (A.2.5.1); AlarmTime in the city's local time, as devices send."""
    method, atype = alarm.codes
    local = alarm.occurred_at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    desc = alarm.description or alarm.kind
    extra = (f"<AlarmPriority>{alarm.priority}</AlarmPriority>\r\n"
             f"<AlarmMethod>{method}</AlarmMethod>\r\n"
             f"<AlarmTime>{local.isoformat(timespec='seconds')}</AlarmTime>\r\n"
             f"<AlarmDescription>{escape(desc[:200])}</AlarmDescription>\r\n")
    if alarm.lat is not None and alarm.lon is not None:
        extra += (f"<Longitude>{alarm.lon:.6f}</Longitude>\r\n"
                  f"<Latitude>{alarm.lat:.6f}</Latitude>\r\n")
    if atype is not None:
        extra += f"<Info>\r\n<AlarmType>{atype}</AlarmType>\r\n</Info>\r\n"
    return manscdp.notify("Alarm", sn, alarm.channel_id, extra)


@dataclass
class Subscription:
    """One SUBSCRIBE dialog of the upper (Catalog or Alarm), refreshed by a new SUBSCRIBE."""

    call_id: str
    cmd: str  #: "Catalog" / "Alarm" (the body's CmdType; the Event header varies in the field)
    event: str  #: the Event header to echo in NOTIFYs
    peer: Peer
    target: str  #: the upper's Contact URI (the NOTIFYs' request URI)
    remote_tag: str
    local_tag: str
    expires_at: float  #: loop time
    priorities: tuple[int, int] = (1, 4)  #: StartAlarmPriority .. EndAlarmPriority
    methods: frozenset[int] = field(default_factory=frozenset)  #: empty: every AlarmMethod
    cseq: int = 0

    def wants(self, alarm: UpwardAlarm) -> bool:
        lo, hi = self.priorities
        return (self.cmd == "Alarm" and lo <= alarm.priority <= hi
                and (not self.methods or alarm.codes[0] in self.methods))


def record_window(doc: manscdp.Doc, zone: str) -> tuple[float, float] | None:
    """(start, end) in unix s of a RecordInfo query (local times, A.2.4.5); None if bad."""
    try:
        start, end = (datetime.fromisoformat(manscdp.text_of(doc, k) or "").replace(
            tzinfo=ZoneInfo(zone)).timestamp() for k in ("StartTime", "EndTime"))
    except ValueError:
        return None
    return (start, end) if start < end else None


def record_info_pages(sn: int, channel: SharedChannel, spans: list[tuple[float, float]],
                      zone: str, per_page: int) -> list[bytes]:
    """A RecordInfo response (A.2.6.6) in MESSAGEs of ``per_page`` items, with SumNum."""
    def local(t: float) -> str:
        return datetime.fromtimestamp(t, ZoneInfo(zone)).replace(tzinfo=None).isoformat(
            timespec="seconds")

    items = [f"<Item>\r\n<DeviceID>{channel.channel_id}</DeviceID>\r\n<Name>"
             f"{escape(channel.name)}</Name>\r\n<StartTime>{local(a)}</StartTime>\r\n"
             f"<EndTime>{local(b)}</EndTime>\r\n<Secrecy>0</Secrecy>\r\n<Type>time</Type>"
             "\r\n</Item>\r\n" for a, b in spans]
    pages = [items[i:i + per_page] for i in range(0, len(items), per_page)] or [[]]
    return [manscdp.response("RecordInfo", sn, channel.channel_id,
                             f"<Name>{escape(channel.name)}</Name>\r\n<SumNum>{len(items)}"
                             f'</SumNum>\r\n<RecordList Num="{len(page)}">\r\n'
                             f"{''.join(page)}</RecordList>\r\n") for page in pages]


def alarm_filter(doc: manscdp.Doc) -> tuple[tuple[int, int], frozenset[int]]:
    """The priority range and methods of an alarm SUBSCRIBE body (A.2.4.6); bad -> all."""
    def code(name: str, default: int) -> int:
        raw = manscdp.text_of(doc, name)
        return int(raw) if raw and raw.isdigit() and 1 <= int(raw) <= 4 else default

    lo, hi = code("StartAlarmPriority", 1), code("EndAlarmPriority", 4)
    raw = (manscdp.text_of(doc, "AlarmMethod") or "").replace("/", ",")
    methods = frozenset(int(m) for m in raw.split(",") if m.strip().isdigit()
                        and 1 <= int(m) <= 7)
    return (min(lo, hi), max(lo, hi)), methods


def catalog_changes(before: dict[str, manscdp.CatalogItem],
                    after: dict[str, manscdp.CatalogItem]) -> list[manscdp.CatalogItem]:
    """Catalog NOTIFY items between two views (A.2.5.2 Event): ADD, DEL, ON/OFF for a
    status change, UPDATE for anything else."""
    out: list[manscdp.CatalogItem] = []
    for cid, it in after.items():
        old = before.get(cid)
        if old is None:
            out.append(_with(it, "ADD"))
        elif old.status != it.status and _with(old, None, it.status) == it:
            out.append(_with(it, "ON" if it.status == "ON" else "OFF"))
        elif old != it:
            out.append(_with(it, "UPDATE"))
    out += [_with(it, "DEL") for cid, it in before.items() if cid not in after]
    return out


def _with(it: manscdp.CatalogItem, event: str | None, status: str | None = None
          ) -> manscdp.CatalogItem:
    return manscdp.CatalogItem(it.id, it.name, status or it.status, it.civil_code, it.parent,
                               it.manufacturer, it.model, it.lat, it.lon, event)
