/**
 * @module
 * A small HTTP listener of its own for a mesh's member list, bound to the
 * central node's address inside the mesh (`[<prefix>::1]:<port>`), so only
 * what is in the mesh reaches it. Deno.serve: a few short JSON answers every
 * few seconds per node need none of the sendfile engine's machinery.
 */

export interface MemberListener {
  readonly addr: { readonly hostname: string; readonly port: number };
  close(): Promise<void>;
}

/** Serves `handler` on hostname:port; throws when the address cannot be bound. */
export function listenMembers(
  hostname: string,
  port: number,
  handler: (req: Request) => Response,
): MemberListener {
  const ac = new AbortController();
  const server = Deno.serve({ hostname, port, signal: ac.signal, onListen: () => {} }, handler);
  return {
    addr: { hostname, port: server.addr.port },
    async close() {
      ac.abort();
      await server.finished.catch(() => {});
    },
  };
}
