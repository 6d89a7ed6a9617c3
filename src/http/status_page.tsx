/** @jsxImportSource hono/jsx */
/**
 * @module
 * The status page, rendered on the server with hono/jsx (which escapes every
 * text and attribute: a node or machine named `<script>` is text). It works
 * without JavaScript: filters and sorting are query parameters, a node's
 * timeline is `?node=<id>`. The inline script (status_assets.ts) only adds
 * the live updates.
 */
import { STAGE_ORDER } from "./deps.ts";
import { queryString, SORT_KEYS, type SortKey, type TableQuery } from "./node_table.ts";
import { STATUS_CSS, STATUS_JS } from "./status_assets.ts";
import { type NodeRowView, type SegmentView, TIMELINE, type TimelineStep } from "./status_view.ts";
import { TopologySvg } from "./topology_svg.tsx";

export interface PageModel {
  readonly now: number;
  readonly segments: readonly SegmentView[];
  /** Nodes per segment id. */
  readonly perSegment: Map<string, number>;
  /** Nodes per stage, all of them (not only the rows shown). */
  readonly perStage: ReadonlyMap<string, number>;
  readonly total: number;
  readonly rows: readonly NodeRowView[];
  readonly matched: number;
  readonly query: TableQuery;
  /** The node whose timeline is shown. */
  readonly selected: NodeRowView | null;
  /** URL of the live stream. */
  readonly stream: string;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return "";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

const STATE_CLASS: Record<TimelineStep["state"], string> = {
  done: "d",
  current: "c",
  skipped: "s",
  todo: "t",
};

const COLUMNS: readonly [SortKey, string][] = [
  ["id", "node"],
  ["machine", "machine"],
  ["mac", "MAC"],
  ["ip", "IP"],
  ["segment", "segment"],
  ["stage", "stage"],
  ["seen", "last seen"],
];

function Row(props: { r: NodeRowView; now: number; q: TableQuery }) {
  const r = props.r;
  return (
    <tr id={`n-${r.key}`} data-stage={r.stage}>
      <td class="c-id">
        <a href={`${queryString(props.q, { node: r.key })}#timeline`}>{r.id ?? r.key}</a>
      </td>
      <td class="c-machine">{r.machine ?? ""}</td>
      <td class="c-mac">{r.mac ?? ""}</td>
      <td class="c-ip">{r.ip ?? ""}</td>
      <td class="c-seg">{r.segment ?? ""}</td>
      <td class="c-stage">{r.stage}</td>
      <td class="c-seen" data-at={String(r.lastSeen)}>
        {`${formatMs(Math.max(0, props.now - r.lastSeen))} ago`}
      </td>
      <td class="c-tl">
        <span class="bar">
          {r.steps.map((s) => <i key={s.stage} class={STATE_CLASS[s.state]} />)}
        </span>{" "}
        <span class="tot">{formatMs(r.totalMs)}</span>
      </td>
    </tr>
  );
}

/** An empty row the script fills for a node that appears while the page is open. */
function RowTemplate() {
  return (
    <template id="row-tpl">
      <tr>
        <td class="c-id">
          <a href="?"></a>
        </td>
        <td class="c-machine"></td>
        <td class="c-mac"></td>
        <td class="c-ip"></td>
        <td class="c-seg"></td>
        <td class="c-stage"></td>
        <td class="c-seen"></td>
        <td class="c-tl">
          <span class="bar">{TIMELINE.map((t) => <i key={t.stage} class="t" />)}</span>{" "}
          <span class="tot"></span>
        </td>
      </tr>
    </template>
  );
}

function Timeline(props: { r: NodeRowView }) {
  const r = props.r;
  const max = Math.max(1, ...r.steps.map((s) => s.ms ?? 0));
  return (
    <section id="timeline" data-key={r.key}>
      <h2>
        {`Boot timeline of ${r.id ?? r.key}`}
        {r.machine ? ` (${r.machine})` : ""} · now <span class="tl-stage">{r.stage}</span>
      </h2>
      <ol class="tl">
        {r.steps.map((s) => (
          <li class={s.state} data-stage={s.stage}>
            <span class="lbl">{s.label}</span>
            <span class="track">
              <span
                class="fill"
                style={`width:${s.ms ? Math.max(2, Math.round((100 * s.ms) / max)) : 0}%`}
              />
            </span>
            <span class="dur">
              {s.state === "skipped"
                ? "skipped"
                : s.state === "current"
                ? `waiting ${formatMs(s.ms)}`
                : formatMs(s.ms)}
            </span>
            <span class="at">
              {s.at === null ? "" : new Date(s.at).toISOString().slice(11, 19)}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}

function Filters(props: { m: PageModel }) {
  const { query: q, segments } = props.m;
  return (
    <form method="get" action="/" id="filters">
      <input type="search" id="q" name="q" value={q.q} placeholder="id, machine, MAC or IP" />
      <select name="stage">
        <option value="">any stage</option>
        {STAGE_ORDER.map((s) => <option key={s} value={s} selected={q.stage === s}>{s}</option>)}
      </select>
      <select name="segment">
        <option value="">any segment</option>
        {segments.map((s) => (
          <option key={s.id} value={s.id} selected={q.segment === s.id}>{s.id}</option>
        ))}
      </select>
      {q.sort !== "seen" || q.dir !== "desc"
        ? [
          <input key="sort" type="hidden" name="sort" value={q.sort} />,
          <input key="dir" type="hidden" name="dir" value={q.dir} />,
        ]
        : null}
      <button type="submit">filter</button> <a href="/">clear</a>
    </form>
  );
}

function SegmentTable(props: { segments: readonly SegmentView[] }) {
  return (
    <table id="segments">
      <thead>
        <tr>
          <th>segment</th>
          <th>ports</th>
          <th>subnet</th>
          <th>mode</th>
          <th>served</th>
          <th>DHCP servers seen</th>
          <th>why</th>
        </tr>
      </thead>
      <tbody>
        {props.segments.map((s) => (
          <tr data-segment={s.id}>
            <td>{s.id}</td>
            <td>{s.interfaces.join(", ")}</td>
            <td>{s.subnet ?? ""}</td>
            <td>{s.mode}</td>
            <td>{s.served ? "yes" : "no"}</td>
            <td>{s.servers.map((x) => `${x.id}${x.proxy ? " (proxy)" : ""}`).join(", ")}</td>
            <td class="why">{s.reason}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function StatusPage(props: { m: PageModel }) {
  const m = props.m;
  const q = m.query;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>mesh status</title>
        {/* no favicon request: the page loads nothing but itself and its stream */}
        <link rel="icon" href="data:," />
        <style dangerouslySetInnerHTML={{ __html: STATUS_CSS }} />
      </head>
      <body data-stream={m.stream}>
        <header>
          <h1>mesh</h1>
          <span>{`${m.total} node${m.total === 1 ? "" : "s"}`}</span>
          <nav class="chips">
            {STAGE_ORDER.filter((s) => (m.perStage.get(s) ?? 0) > 0).map((s) => (
              <a class="chip" href={queryString(q, { stage: s, node: null })}>
                {`${s} ${m.perStage.get(s)}`}
              </a>
            ))}
          </nav>
          <span id="live">{`as of ${new Date(m.now).toISOString().slice(0, 19)}Z`}</span>
        </header>
        <main>
          <section>
            <h2>Network</h2>
            <TopologySvg segments={m.segments} nodes={m.perSegment} />
            <SegmentTable segments={m.segments} />
          </section>
          {m.selected !== null ? <Timeline r={m.selected} /> : null}
          <section>
            <h2>{`Nodes: ${m.rows.length} shown of ${m.matched} matching, ${m.total} in all`}</h2>
            <Filters m={m} />
            <table id="nodes">
              <thead>
                <tr>
                  {COLUMNS.map(([key, label]) => {
                    const dir = q.sort === key && q.dir === "asc" ? "desc" : "asc";
                    return (
                      <th
                        aria-sort={q.sort === key
                          ? (q.dir === "asc" ? "ascending" : "descending")
                          : undefined}
                      >
                        <a href={queryString(q, { sort: key, dir })}>{label}</a>
                      </th>
                    );
                  })}
                  <th>boot</th>
                </tr>
              </thead>
              <tbody>
                {m.rows.map((r) => <Row key={r.key} r={r} now={m.now} q={q} />)}
              </tbody>
            </table>
            <RowTemplate />
          </section>
        </main>
        <script dangerouslySetInnerHTML={{ __html: STATUS_JS }} />
      </body>
    </html>
  );
}

/** The whole document. */
export function renderStatusPage(m: PageModel): string {
  return `<!doctype html>${String(<StatusPage m={m} />)}`;
}

// SORT_KEYS is the table's contract with node_table.ts; keep the headers in step.
if (COLUMNS.length !== SORT_KEYS.length) {
  throw new Error("status page: columns and sort keys differ");
}
