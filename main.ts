/**
 * @module
 * The only entry point of mesh: the daemon (`mesh serve`) and every CLI command.
 */
import { main } from "./src/cli/main.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
