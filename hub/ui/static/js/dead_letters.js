// Dead letters (admins): what the department's systems sent that the hub could not store.
// Letters per hour over a day as a chart (a source that broke shows as a wall of bars from
// the hour it broke), the topics that send most with their latest reason, and the letters
// newest first, filtered by topic and reason, each payload downloadable as received.
import { api, authFetch, failure, v1 } from "./api.js";
import { download, h, toast } from "./dom.js";
import { errorText, fmtTime, t } from "./i18n.js";
import { countsChart } from "./charts.js";

const PAGE = 100;

function letterRow(d) {
  const get = async () => {
    try {
      const r = await authFetch(v1(`dead-letters/${d.id}/payload`));
      if (!r.ok) throw await failure(r);
      download(await r.blob(), `dead-letter-${d.id}.bin`);
    } catch (err) { toast(errorText(err), "error"); }
  };
  return h("tr", { dataset: { id: d.id } },
    h("td", fmtTime(d.received_at)), h("td", h("code", d.topic)), h("td.err", d.reason),
    h("td", String(d.payload_size)),
    h("td.detail", { title: d.preview }, d.preview),
    h("td", h("button.ghost.payload", { type: "button", onclick: get }, t("admin.dead.download"))));
}

export async function deadLettersPage(root) {
  const chart = h("div.chart", { id: "dead-chart" });
  const total = h("p.muted", { id: "dead-total" });
  const topics = h("tbody", { id: "dead-topics" });
  const rows = h("tbody", { id: "dead-rows" });
  const f = {
    topic: h("input", { id: "dead-topic", size: 28, maxlength: 300, placeholder: t("admin.dead.topic_hint") }),
    reason: h("input", { id: "dead-reason", size: 20, maxlength: 200, placeholder: t("admin.dead.reason_hint") }),
  };
  const more = h("button.ghost", { id: "dead-more", hidden: true, onclick: () => load(false) }, t("admin.audit.more"));
  let cursor = null;

  async function load(fresh) {
    if (fresh) { cursor = null; rows.replaceChildren(); }
    try {
      const page = await api(v1("dead-letters"), { query: { limit: PAGE, before_id: cursor ?? undefined,
        topic_prefix: f.topic.value.trim() || undefined, reason: f.reason.value.trim() || undefined } });
      rows.append(...page.items.map(letterRow));
      cursor = page.next_before_id;
      more.hidden = cursor == null;
      if (!rows.children.length) rows.replaceChildren(h("tr", h("td", { colspan: 6 }, t("admin.dead.none"))));
    } catch (err) { toast(errorText(err), "error"); }
  }

  async function overview() {
    const s = await api(v1("dead-letters/summary"), { query: { hours: 24 } });
    total.textContent = t("admin.dead.total", { n: s.total });
    const end = Date.now();
    countsChart(chart, s.per_hour.map((x) => ({ bucket: x.hour, group: t("admin.dead.series"), n: x.n })),
      [Date.parse(s.since), end]);
    topics.replaceChildren(...s.by_topic.map((x) => h("tr", { dataset: { topic: x.topic } },
      h("td", h("code", x.topic)), h("td", String(x.n)), h("td.err", x.last_reason))));
  }

  root.replaceChildren(h("div.deadpage",
    h("h2", t("admin.nav.dead")), h("p.muted", t("admin.dead.intro")),
    h("h3", t("admin.dead.per_hour")), total, chart,
    h("h3", t("admin.dead.by_topic")),
    h("div.tablewrap", h("table", h("thead", h("tr", ...["admin.dead.topic", "admin.dead.count", "admin.dead.last_reason"].map((k) => h("th", t(k))))), topics)),
    h("h3", t("admin.dead.latest")),
    h("form.filters", { onsubmit: (e) => { e.preventDefault(); load(true); } },
      f.topic, f.reason, h("button", { type: "submit", id: "dead-apply" }, t("core.apply"))),
    h("div.tablewrap", h("table", { id: "dead-table" },
      h("thead", h("tr", ...["core.events.time", "admin.dead.topic", "admin.dead.reason", "admin.dead.size", "admin.dead.preview", ""].map((k) => h("th", k ? t(k) : "")))),
      rows)),
    more));
  try { await overview(); } catch (err) { toast(errorText(err), "error"); }
  await load(true);
}
