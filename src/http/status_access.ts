/**
 * @module
 * Who may see the status page and its live stream (they show node ids,
 * MACs and addresses): `http.status_page: on` — the node API's audience
 * (http.api_access: management addresses and loopback, or the bearer
 * token); `token` — the bearer token only; `off` — nobody (404).
 *
 * A browser cannot add an Authorization header to a page load or to an
 * EventSource, so the token may also come as a cookie: `/?token=<token>`
 * checks it once, sets an HttpOnly SameSite=Strict cookie and redirects to
 * a URL without it (so it stays out of the history and the access log).
 */
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import type { HttpEnv } from "./context.ts";
import type { ApiAccess, StatusPageAccess } from "./deps.ts";
import { apiRefusal, sameToken } from "./node_api_routes.ts";

export const TOKEN_COOKIE = "mesh_token";

function bearer(c: Context<HttpEnv>): string | undefined {
  const auth = c.req.header("authorization");
  if (auth === undefined) return undefined;
  return /^Bearer\s+(\S+)$/i.exec(auth)?.[1] ?? "";
}

/** Why this request may not see the page, or null when it may. `mode` is not "off". */
export function statusRefusal(
  c: Context<HttpEnv>,
  mode: StatusPageAccess,
  access: ApiAccess,
): string | null {
  const cookie = getCookie(c, TOKEN_COOKIE);
  if (cookie !== undefined && access.token !== undefined && sameToken(cookie, access.token)) {
    return null;
  }
  if (mode === "on") return apiRefusal(c, access);
  if (access.token === undefined) return "status_page is token, but http.api_token_file is not set";
  const given = bearer(c);
  if (given === undefined) return "bearer token required";
  return sameToken(given, access.token) ? null : "bad bearer token";
}

/**
 * `?token=` on the page: a redirect that sets the cookie when the token is
 * right, a refusal when not, or null when the query has no token.
 */
export function tokenLogin(c: Context<HttpEnv>, access: ApiAccess): Response | null {
  const given = c.req.query("token");
  if (given === undefined) return null;
  if (access.token === undefined || !sameToken(given, access.token)) return null;
  const url = new URL(c.req.url);
  url.searchParams.delete("token");
  const location = `${url.pathname}${url.search}`;
  return new Response(null, {
    status: 303,
    headers: {
      location,
      "set-cookie": `${TOKEN_COOKIE}=${
        encodeURIComponent(given)
      }; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000`,
      "cache-control": "no-store",
    },
  });
}
