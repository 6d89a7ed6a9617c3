/** Test fixture (run in a lab namespace): prints whether another router answers on <ifname>. */
import { interfaceMac } from "../net/mod.ts";
import { otherRouterAnswers } from "./router_check.ts";

const ifname = Deno.args[0] ?? "eth0";
console.log(JSON.stringify({ answered: await otherRouterAnswers(ifname, interfaceMac(ifname)) }));
