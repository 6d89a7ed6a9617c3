/**
 * @module
 * Link and IPv4 address changes as the kernel announces them (rtnetlink
 * groups), read in the one reactor. An overflow of the socket's buffer is
 * an event of its own: the caller rescans instead of trusting a partial view.
 */
import { DecodeError } from "../errors.ts";
import {
  decodeAddr,
  decodeLink,
  type LinkInfo,
  linkInfoOf,
  type NlMessage,
  parseMessages,
  RTNL,
} from "./netlink.ts";
import {
  decoded,
  log,
  MONITOR_BURST,
  MONITOR_RCVBUF,
  NetlinkSocket,
  readSpeed,
} from "./netlink_socket.ts";
import { Reactor, type Registration } from "./reactor.ts";

/** A change the kernel announced. "overflow": notifications were lost, rescan. */
export type LinkEvent =
  | { readonly type: "link"; readonly link: LinkInfo; readonly removed: boolean }
  | {
    readonly type: "address";
    readonly ifindex: number;
    readonly ip: number;
    readonly prefix: number;
    readonly removed: boolean;
  }
  | { readonly type: "overflow" };

function eventOf(m: NlMessage): LinkEvent | null {
  if (m.type === RTNL.RTM_NEWLINK || m.type === RTNL.RTM_DELLINK) {
    const l = decoded(m, decodeLink);
    if (!l || l.family !== RTNL.AF_UNSPEC) return null;
    const removed = m.type === RTNL.RTM_DELLINK;
    return { type: "link", link: linkInfoOf(l, removed ? null : readSpeed(l.name)), removed };
  }
  if (m.type === RTNL.RTM_NEWADDR || m.type === RTNL.RTM_DELADDR) {
    const a = decoded(m, decodeAddr);
    const ip = a?.local ?? a?.address ?? null;
    if (!a || a.family !== RTNL.AF_INET || ip === null) return null;
    return {
      type: "address",
      ifindex: a.ifindex,
      ip,
      prefix: a.prefix,
      removed: m.type === RTNL.RTM_DELADDR,
    };
  }
  return null;
}

export interface LinkMonitorOptions {
  /** Kernel receive buffer in bytes (default 1 MiB, capped by net.core.rmem_max). */
  readonly rcvbuf?: number;
}

/**
 * Link and IPv4 address changes of the current network namespace, as they
 * happen (RTMGRP_LINK, RTMGRP_IPV4_IFADDR). The socket waits in the shared
 * reactor, so an idle monitor costs nothing; while it is open the reactor
 * (and so the process) keeps running.
 */
export class LinkMonitor {
  readonly #sock: NetlinkSocket;
  readonly #reg: Registration;
  readonly #onEvent: (ev: LinkEvent) => void;

  constructor(onEvent: (ev: LinkEvent) => void, opts: LinkMonitorOptions = {}) {
    this.#onEvent = onEvent;
    const sock = NetlinkSocket.open(
      RTNL.RTMGRP_LINK | RTNL.RTMGRP_IPV4_IFADDR,
      opts.rcvbuf ?? MONITOR_RCVBUF,
    );
    this.#sock = sock;
    try {
      this.#reg = Reactor.shared().add({
        get fd() {
          return sock.fd;
        },
        close: () => sock.close(),
      }, { ready: () => this.#drain(), timeout() {} });
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  get closed(): boolean {
    return this.#reg.closed;
  }

  #emit(ev: LinkEvent): void {
    try {
      this.#onEvent(ev);
    } catch (e) {
      // The caller's bug must not end the monitor.
      log.error("link event handler failed", { error: String(e) });
    }
  }

  #drain(): void {
    // Level-triggered: what is left after a burst is reported on the next round.
    for (let i = 0; i < MONITOR_BURST && !this.#reg.closed; i++) {
      const got = this.#sock.tryRecv();
      if (got === null) return;
      if (got === "lost") {
        this.#emit({ type: "overflow" });
        continue;
      }
      let messages: NlMessage[];
      try {
        messages = parseMessages(got);
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        // The rest of the datagram cannot be framed: what it said is lost.
        log.warn("netlink datagram unreadable", { error: e.message });
        this.#emit({ type: "overflow" });
        continue;
      }
      for (const m of messages) {
        if (this.#reg.closed) return; // the handler closed the monitor
        const ev = eventOf(m);
        if (ev) this.#emit(ev);
      }
    }
  }

  /** Stops listening and closes the socket. */
  close(): void {
    this.#reg.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
