import assert from "node:assert/strict";
import { decideMode, type ExistingDhcp, type ModeInput } from "./segment_mode.ts";

const SERVER: ExistingDhcp = {
  servers: [{
    serverId: "10.50.0.1",
    serverMac: "02:aa:00:00:00:01",
    subnets: ["10.50.0.0/24"],
    proxy: false,
  }],
};
const PROXY_ONLY: ExistingDhcp = {
  servers: [{ serverId: "10.50.0.2", serverMac: "02:aa:00:00:00:02", subnets: [], proxy: true }],
};
const GUARD = { serverId: "10.60.0.1", serverMac: "02:bb:00:00:00:01" };

Deno.test("decideMode: every branch", () => {
  const cases: [string, ModeInput, string, boolean, RegExp][] = [
    ["all off", { configured: ["off", "off"], link: "up" }, "off", false, /mode off/],
    [
      "no carrier",
      { configured: ["auto"], link: "down", dhcp: SERVER },
      "auto",
      false,
      /no carrier/,
    ],
    ["auto, not probed", { configured: ["auto"], link: "up" }, "auto", false, /not probed/],
    [
      "auto, a server answers",
      { configured: ["auto"], link: "up", dhcp: SERVER },
      "proxy",
      true,
      /10\.50\.0\.1 \(02:aa/,
    ],
    [
      "auto, only a proxy answers",
      { configured: ["auto"], link: "up", dhcp: PROXY_ONLY },
      "server",
      true,
      /no DHCP server/,
    ],
    [
      "auto, silence",
      { configured: ["auto"], link: "up", dhcp: { servers: [] } },
      "server",
      true,
      /no DHCP server/,
    ],
    [
      "server forced beside another",
      { configured: ["server"], link: "up", dhcp: SERVER },
      "server",
      true,
      /mode server.*10\.50\.0\.1/,
    ],
    [
      "proxy forced",
      { configured: ["proxy"], link: "up", dhcp: { servers: [] } },
      "proxy",
      true,
      /mode proxy/,
    ],
    [
      "one port off, one auto",
      { configured: ["off", "auto"], link: "up", dhcp: SERVER },
      "proxy",
      true,
      /auto/,
    ],
    [
      "guard: switch",
      { configured: ["server"], link: "up", guard: { ...GUARD, action: "switch" } },
      "proxy",
      true,
      /guard.*SIGHUP/,
    ],
    [
      "guard: stop",
      {
        configured: ["auto"],
        link: "up",
        dhcp: { servers: [] },
        guard: { ...GUARD, action: "stop" },
      },
      "off",
      false,
      /stopped/,
    ],
    [
      "guard: warn",
      {
        configured: ["auto"],
        link: "up",
        dhcp: { servers: [] },
        guard: { ...GUARD, action: "warn" },
      },
      "server",
      true,
      /no DHCP server/,
    ],
    [
      "guard: warn, forced server",
      { configured: ["server"], link: "up", guard: { ...GUARD, action: "warn" } },
      "server",
      true,
      /guard saw 10\.60/,
    ],
  ];
  for (const [name, input, mode, serve, reason] of cases) {
    const d = decideMode(input);
    assert.equal(d.mode, mode, name);
    assert.equal(d.serve, serve, name);
    assert.match(d.reason, reason, name);
  }
});
