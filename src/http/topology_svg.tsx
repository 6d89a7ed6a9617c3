/** @jsxImportSource hono/jsx */
/**
 * @module
 * The network picture, drawn on the server as inline SVG (the central node
 * is offline: no script library, no font): this node's ports on the left,
 * each segment (the ports that share a switch) in the middle with its subnet
 * and mode, and the DHCP servers seen there on the right. Text is escaped by
 * hono/jsx like any other; the layout is plain arithmetic.
 */
import type { SegmentView } from "./status_view.ts";

const PORT_W = 110, PORT_H = 26, PORT_GAP = 8;
const SEG_X = 190, SEG_W = 330, SEG_H = 84;
const SRV_X = 590, SRV_W = 200, SRV_H = 40, SRV_GAP = 8;
const BAND_GAP = 18, TOP = 34;
export const TOPOLOGY_WIDTH = 800;

/** At most this many characters of a text in a box (the rest is in the tooltip). */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

interface Band {
  readonly seg: SegmentView;
  readonly y: number;
  readonly height: number;
}

/** Each segment's band: tall enough for its ports, its box and its servers. */
export function layoutBands(segments: readonly SegmentView[]): { bands: Band[]; height: number } {
  let y = TOP;
  const bands = segments.map((seg) => {
    const ports = Math.max(1, seg.interfaces.length) * (PORT_H + PORT_GAP) - PORT_GAP;
    const servers = seg.servers.length * (SRV_H + SRV_GAP) - SRV_GAP;
    const height = Math.max(SEG_H, ports, servers);
    const band = { seg, y, height };
    y += height + BAND_GAP;
    return band;
  });
  return { bands, height: Math.max(y, TOP + 40) };
}

function modeClass(mode: string): string {
  return ["server", "proxy", "off", "auto"].includes(mode) ? `m-${mode}` : "m-auto";
}

function SegmentBand(props: { band: Band; nodes: number }) {
  const { seg, y, height } = props.band;
  const mid = y + height / 2;
  const portTop = mid - (seg.interfaces.length * (PORT_H + PORT_GAP) - PORT_GAP) / 2;
  const srvTop = mid - (seg.servers.length * (SRV_H + SRV_GAP) - SRV_GAP) / 2;
  const segY = mid - SEG_H / 2;
  const served = seg.served ? "served" : "not served";
  return (
    <g class={`segment ${modeClass(seg.mode)}`} data-segment={seg.id}>
      {seg.interfaces.map((name, i) => {
        const py = portTop + i * (PORT_H + PORT_GAP);
        return (
          <g class={`port link-${seg.link === "up" ? "up" : "down"}`}>
            <line x1={20 + PORT_W} y1={py + PORT_H / 2} x2={SEG_X} y2={mid} class="wire" />
            <rect x={20} y={py} width={PORT_W} height={PORT_H} rx={4} />
            <text x={30} y={py + 17}>{clip(name, 14)}</text>
          </g>
        );
      })}
      <rect class="segbox" x={SEG_X} y={segY} width={SEG_W} height={SEG_H} rx={6}>
        <title>{`${seg.id}: ${seg.mode}, ${served}. ${seg.reason}`}</title>
      </rect>
      <text class="seg-title" x={SEG_X + 10} y={segY + 18}>
        {`switch ${clip(seg.id, 22)}`}
      </text>
      <text class="badge" x={SEG_X + SEG_W - 10} y={segY + 18} text-anchor="end">
        {`${seg.mode}${seg.served ? "" : " (idle)"}`}
      </text>
      <text x={SEG_X + 10} y={segY + 38}>
        {clip(`${seg.subnet ?? "no subnet"}${seg.address ? ` · us ${seg.address}` : ""}`, 44)}
      </text>
      <text class="reason" x={SEG_X + 10} y={segY + 56}>{clip(seg.reason, 46)}</text>
      <text class="dim" x={SEG_X + 10} y={segY + 74}>
        {`${props.nodes} node${props.nodes === 1 ? "" : "s"} · ${seg.neighbours} host${
          seg.neighbours === 1 ? "" : "s"
        } heard`}
      </text>
      {seg.servers.map((s, i) => {
        const sy = srvTop + i * (SRV_H + SRV_GAP);
        return (
          <g class={`dhcp-server${s.proxy ? " proxy" : ""}`}>
            <line x1={SEG_X + SEG_W} y1={mid} x2={SRV_X} y2={sy + SRV_H / 2} class="wire" />
            <rect x={SRV_X} y={sy} width={SRV_W} height={SRV_H} rx={4}>
              <title>{`${s.id} ${s.mac} ${s.subnets.join(" ")}`}</title>
            </rect>
            <text x={SRV_X + 8} y={sy + 16}>{clip(`DHCP ${s.id}`, 28)}</text>
            <text class="dim" x={SRV_X + 8} y={sy + 32}>
              {clip(s.proxy ? "proxyDHCP" : s.subnets.join(", ") || "no subnet", 30)}
            </text>
          </g>
        );
      })}
    </g>
  );
}

/** The picture; `nodes` counts the nodes seen per segment id. */
export function TopologySvg(
  props: { segments: readonly SegmentView[]; nodes: Map<string, number> },
) {
  const { bands, height } = layoutBands(props.segments);
  return (
    <svg
      id="topology"
      viewBox={`0 0 ${TOPOLOGY_WIDTH} ${height}`}
      width="100%"
      role="img"
      aria-label="network topology"
    >
      <rect class="host" x={8} y={6} width={PORT_W + 24} height={height - 12} rx={8} />
      <text class="col" x={20} y={24}>this node</text>
      <text class="col" x={SEG_X} y={24}>segments (switches)</text>
      <text class="col" x={SRV_X} y={24}>DHCP servers seen</text>
      {bands.length === 0
        ? <text class="dim" x={SEG_X} y={TOP + 24}>no network scan stored yet</text>
        : bands.map((b) => (
          <SegmentBand key={b.seg.id} band={b} nodes={props.nodes.get(b.seg.id) ?? 0} />
        ))}
    </svg>
  );
}
