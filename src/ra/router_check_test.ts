import assert from "node:assert/strict";
import { createLab, labSkipReason } from "../../tests/lib/netns.ts";

const FIXTURE = new URL("./_router_check_test_fixture.ts", import.meta.url).pathname;
const skip = labSkipReason(["dnsmasq"]);

Deno.test({
  name: "otherRouterAnswers: a router on the link answers the solicitation; an empty link does not",
  ignore: skip !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using lab = await createLab("rchk", [{ name: "us" }, { name: "rtr" }]);
    const ask = async () => {
      const r = await lab.exec("us", [
        Deno.execPath(),
        "run",
        "-A",
        "--cached-only",
        FIXTURE,
        "eth0",
      ]);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { answered: boolean }).answered;
    };
    // Link-local addresses need DAD to finish before anyone sends from them.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await ask(), false);
    await lab.exec("rtr", ["ip", "addr", "add", "fd77::1/64", "dev", "eth0", "nodad"]);
    lab.spawn("rtr", [
      "dnsmasq",
      "--keep-in-foreground",
      "--port=0",
      "--user=root",
      "--interface=eth0",
      "--bind-interfaces",
      "--leasefile-ro",
      "--pid-file=",
      "--conf-file=/dev/null",
      "--enable-ra",
      "--dhcp-range=::,constructor:eth0,ra-only",
    ]);
    let answered = false;
    for (let i = 0; i < 10 && !answered; i++) answered = await ask();
    assert.ok(answered, "dnsmasq's RA was not heard");
  },
});
