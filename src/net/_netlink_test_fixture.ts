/**
 * Test fixture for netlink_socket_test.ts, run inside a network namespace
 * (`ip netns exec <ns> deno run -A _netlink_test_fixture.ts ...`): netlink
 * sockets see the namespace of the process that opens them. Prints JSON.
 *
 *   ops <op>...    ops: `list`, `add <link> <a.b.c.d/n>`, `del <link> <a.b.c.d/n>`
 *                  (a link by name or ifindex); prints one JSON array of results
 *   monitor <ms>   prints "ready", then one JSON line per LinkEvent, for <ms>
 *   overflow <link> <ms>  a monitor with a tiny buffer while the event loop is
 *                  held and <link> flaps; prints whether overflow was reported
 *                  and whether events still arrive afterwards
 */
import { formatIpv4, parseIpv4 } from "../wire/mod.ts";
import {
  addAddress,
  deleteAddress,
  type LinkEvent,
  LinkMonitor,
  listAddresses,
  listInterfaces,
  listLinks,
} from "./mod.ts";

async function ifindexOf(link: string): Promise<number> {
  if (/^\d+$/.test(link)) return Number(link);
  const found = (await listLinks()).find((l) => l.name === link);
  if (!found) throw new Error(`fixture: no link ${link}`);
  return found.ifindex;
}

function cidr(text: string): [number, number] {
  const [ip, prefix] = text.split("/");
  return [parseIpv4(ip!), Number(prefix)];
}

async function ops(args: string[]): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < args.length;) {
    const op = args[i++];
    try {
      if (op === "list") {
        const [links, addresses, interfaces] = await Promise.all([
          listLinks(),
          listAddresses(),
          listInterfaces(),
        ]);
        const shown = addresses.map((a) => ({ ...a, text: `${formatIpv4(a.ip)}/${a.prefix}` }));
        out.push({ links, addresses: shown, interfaces });
      } else if (op === "add" || op === "del") {
        const ifindex = await ifindexOf(args[i++]!);
        const [ip, prefix] = cidr(args[i++]!);
        out.push(
          op === "add"
            ? await addAddress(ifindex, ip, prefix)
            : await deleteAddress(ifindex, ip, prefix),
        );
      } else throw new Error(`fixture: unknown op ${op}`);
    } catch (e) {
      const err = e as { name?: string; message?: string; errno?: number };
      out.push({ error: err.name, message: err.message, errno: err.errno });
    }
  }
  return out;
}

async function monitor(ms: number): Promise<void> {
  const mon = new LinkMonitor((ev) => console.log(JSON.stringify(ev)));
  console.log("ready");
  await new Promise((r) => setTimeout(r, ms));
  mon.close();
}

async function sh(script: string): Promise<void> {
  const r = await new Deno.Command("sh", { args: ["-c", script] }).output();
  if (!r.success) throw new Error(`fixture: ${script}: ${new TextDecoder().decode(r.stderr)}`);
}

async function overflow(link: string, ms: number): Promise<void> {
  const events: LinkEvent[] = [];
  const mon = new LinkMonitor((ev) => events.push(ev), { rcvbuf: 1 });
  // outputSync holds the event loop: the monitor cannot read while the link flaps.
  const flap = `for i in $(seq 100); do ip link set ${link} down; ip link set ${link} up; done`;
  new Deno.Command("sh", { args: ["-c", flap] }).outputSync();
  const until = performance.now() + ms;
  while (performance.now() < until && !events.some((e) => e.type === "overflow")) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const overflowed = events.some((e) => e.type === "overflow");
  // After the overflow the monitor keeps going: the next change is seen, or
  // (the buffer is one page: a loaded machine may overflow it again with the
  // change's own messages) reported as another overflow, which also needs a
  // monitor that still reads. Its own time budget: the first wait may have
  // used most of the first one on a busy machine.
  events.length = 0;
  await sh(`ip link set ${link} mtu 1280`);
  const seen = () =>
    events.some((e) =>
      e.type === "overflow" || (e.type === "link" && e.link.name === link && e.link.mtu === 1280)
    );
  const again = performance.now() + ms;
  while (performance.now() < again && !seen()) {
    await new Promise((r) => setTimeout(r, 20));
  }
  mon.close();
  console.log(JSON.stringify({ overflowed, after: seen() }));
}

const [mode, ...rest] = Deno.args;
if (mode === "ops") console.log(JSON.stringify(await ops(rest)));
else if (mode === "monitor") await monitor(Number(rest[0] ?? 5000));
else if (mode === "overflow") await overflow(rest[0]!, Number(rest[1] ?? 3000));
else throw new Error(`fixture: unknown mode ${mode}`);
