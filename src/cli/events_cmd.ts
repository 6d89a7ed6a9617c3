/**
 * @module
 * `mesh events [--follow] [-n <id|mac>] [--limit N]`: boot steps of nodes and
 * changes of the network (scans, segments, guard actions), read from the
 * state database, so it works whether the daemon runs or not. `--follow`
 * polls the database for new rows (every 200 ms: the daemon commits node
 * events within 20 ms, so a step shows up well within a second). `--json`
 * prints one JSON object per line.
 */
import { existsSync } from "node:fs";
import { EventFeed, type FeedEvent, type FeedFilter, NodeStore, openStore } from "../store/mod.ts";
import { type GlobalOptions, out, stateDir } from "./context.ts";
import { formatTime } from "./format.ts";

export interface EventsOptions {
  follow?: boolean;
  node?: string;
  limit?: number;
}

const POLL_MS = 200;

function line(e: FeedEvent): string {
  const detail = e.detail === null ? "" : ` ${JSON.stringify(e.detail)}`;
  if (e.type === "node") {
    const who = e.node ?? e.mac ?? "-";
    return `${formatTime(e.at)}  node ${who} ${e.source} ${e.stage}${
      e.ip ? ` ${e.ip}` : ""
    }${detail}\n`;
  }
  return `${formatTime(e.at)}  net ${e.segment ?? "-"} ${e.kind}${detail}\n`;
}

/** The filter for `-n`: a node's id and MAC when known, so its MAC-only DHCP steps show too. */
function filterOf(feedDb: ConstructorParameters<typeof NodeStore>[0], ref?: string): FeedFilter {
  if (ref === undefined) return {};
  const n = new NodeStore(feedDb).get(ref, 0);
  if (n?.id) return { node: n.id, ...(n.mac ? { mac: n.mac } : {}) };
  return ref.includes(":") ? { mac: ref } : { node: ref };
}

/** Runs until interrupted with --follow; prints the recent events otherwise. */
export async function events(opts: GlobalOptions, o: EventsOptions): Promise<number> {
  const path = `${stateDir(opts)}/mesh.db`;
  const print = (e: FeedEvent) => out(opts.json ? JSON.stringify(e) + "\n" : line(e));
  const limit = o.limit ?? 50;
  // No database yet: nothing happened; a follower waits for the daemon to make one.
  while (!existsSync(path)) {
    if (!o.follow) {
      if (!opts.json) out("no events yet\n");
      return 0;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const store = openStore(path);
  try {
    const feed = new EventFeed(store.db);
    let filter = filterOf(store.db, o.node);
    const { events, cursor } = feed.tail(limit, filter);
    for (const e of events) print(e);
    if (!o.follow) {
      if (events.length === 0 && !opts.json) out("no events yet\n");
      return 0;
    }
    for (;;) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const next = feed.since(cursor, filter);
      for (const e of next) print(e);
      // A node seen first by MAC gets its id later: widen the filter then.
      if (o.node !== undefined && filter.mac === undefined && next.length > 0) {
        filter = filterOf(store.db, o.node);
      }
    }
  } finally {
    store.close();
  }
}
