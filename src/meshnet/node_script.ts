/**
 * @module
 * What a node needs to join its meshes (pure templates): one conf per mesh in
 * /etc/mesh/network/, the POSIX sh script that builds the tunnels and keeps
 * their flood entries in step with the member list (busybox ash is enough;
 * iproute2 is needed, busybox `ip` has no vxlan), and its OpenRC service.
 *
 * On the node, for each conf: `vxlan<vni>` (unicast: no group, `nolearning`,
 * dstport 4789, local = the node's address towards the central node) in a
 * bridge `br<vni>` holding the node's mesh address; a flood entry to the
 * central node first (a node cannot ask for the member list before it can
 * reach `<prefix>::1`), then every few seconds the list from
 * `http://[<prefix>::1]:<port>/members` (busybox wget) and `bridge fdb`
 * entries added and removed to match it. An unreachable list changes nothing.
 */

/** Where the generated files go on the node. */
export const NODE_PATHS = {
  confDir: "etc/mesh/network",
  script: "etc/mesh/meshnet.sh",
  service: "etc/init.d/mesh-net",
  runlevel: "etc/runlevels/default/mesh-net",
} as const;

/** One mesh as a node joins it (the conf file's keys). */
export interface NodeMeshConf {
  readonly name: string;
  readonly vni: number;
  readonly prefix: string;
  /** The prefix's 4 groups, unabbreviated, for the sh rule. */
  readonly prefix64: string;
  /** The node's address, or "" in the default overlay (the node computes it from its id). */
  readonly address: string;
  readonly mac: string;
  /** The central node's IPv4 on the boot network, or "" (the node takes the apkovl= host). */
  readonly central: string;
  /** `<prefix>::1`. */
  readonly central6: string;
  readonly port: number;
  readonly mtu: number;
  /** Default overlay only: the node ids it is for, space separated ("" for every node). */
  readonly only: string;
  /** The /host0 file it came from (a comment). */
  readonly source: string;
}

/** The text of `/etc/mesh/network/<name>.conf`. */
export function renderNodeConf(c: NodeMeshConf): string {
  return [
    `# The ${c.name} mesh as this node joins it; written by mesh from ${c.source}.`,
    `name=${c.name}`,
    `vni=${c.vni}`,
    `prefix=${c.prefix}`,
    `prefix64=${c.prefix64}`,
    `address=${c.address}`,
    `mac=${c.mac}`,
    `central=${c.central}`,
    `central6=${c.central6}`,
    `port=${c.port}`,
    `mtu=${c.mtu}`,
    `only=${c.only}`,
    "",
  ].join("\n");
}

/**
 * The node script: `meshnet.sh up|sync|run|down|show` (`show`: each mesh's
 * name, this node's address and MAC, tunnel and bridge). The address and MAC rules
 * repeat src/meshnet/address.ts (meshnet_sh_test.ts runs both). Environment
 * overrides for tests: MESH_NETWORK_DIR, MESH_ETC, MESH_POLL_SECONDS.
 */
export const NODE_SCRIPT = String.raw`#!/bin/sh
# mesh cluster networks on this node (written by mesh; README "Cluster networks").
# For each /etc/mesh/network/*.conf: unicast VXLAN vxlan<vni> in bridge br<vni>
# with this node's mesh address, pointed at the central node first; then the
# member list at http://[<prefix>::1]:<port>/members is polled and the
# tunnel's flood entries (bridge fdb 00:00:00:00:00:00 dst <peer>) follow it.
# Usage: meshnet.sh up | sync | run | down | show
set -u
DIR=${"${MESH_NETWORK_DIR:-/etc/mesh/network}"}
ETC=${"${MESH_ETC:-/etc/mesh}"}
POLL=${"${MESH_POLL_SECONDS:-5}"}
ZERO=00:00:00:00:00:00

log() { echo "mesh-net: $*" >&2; }
key() { sed -n "s/^$1=//p" "$2" | head -n 1; }

node_id() {
  id=$(cat "$ETC/node-id" 2>/dev/null)
  if [ -z "$id" ] || [ "$id" = default ]; then id=$(sh "$ETC/genid.sh"); fi
  echo "$id"
}

# The rules of src/meshnet/address.ts.
mesh_address() { # prefix64 name id
  h=$(printf '%s' "mesh-node:$2:$3" | sha256sum | cut -c1-16)
  case $h in 000000000000000[01]) h=000000000000000$(( ${"${h#000000000000000}"} + 2 )) ;; esac
  echo "$1:$(echo "$h" | sed 's/\(....\)\(....\)\(....\)\(....\)/\1:\2:\3:\4/')"
}
mesh_mac() { # name id
  h=$(printf '%s' "mesh-mac:$1:$2" | sha256sum | cut -c1-12)
  first=$(printf '%02x' $(( (0x$(echo "$h" | cut -c1-2) & 0xfc) | 2 )))
  echo "$first$(echo "$h" | cut -c3-12 | sed 's/\(..\)/:\1/g')"
}

# Reads one conf; false when this node is not for it or cannot join it.
load() {
  name=$(key name "$1"); vni=$(key vni "$1"); port=$(key port "$1"); mtu=$(key mtu "$1")
  central6=$(key central6 "$1"); address=$(key address "$1"); mac=$(key mac "$1")
  only=$(key only "$1"); central=$(key central "$1")
  vx=vxlan$vni; br=br$vni
  if [ -z "$address" ] || [ -n "$only" ]; then
    id=$(node_id)
    if [ -n "$only" ]; then case " $only " in *" $id "*) ;; *) return 1 ;; esac; fi
    [ -n "$address" ] || address=$(mesh_address "$(key prefix64 "$1")" "$name" "$id")
    [ -n "$mac" ] || mac=$(mesh_mac "$name" "$id")
  fi
  # the host this node fetched its overlay from is the central node
  [ -n "$central" ] || central=$(tr ' ' '\n' </proc/cmdline |
    sed -n 's,^apkovl=[a-z]*://\([0-9.]*\)[:/].*,\1,p' | head -n 1)
  [ -n "$central" ] || { log "$name: no central node (central= or apkovl= on the command line)"; return 1; }
}

# "dev src" of the route to the central node: the tunnel's underlay.
underlay() {
  ip -4 route get "$central" | sed -n 's/.* dev \([^ ]*\).* src \([0-9.]*\).*/\1 \2/p' | head -n 1
}

up_one() {
  ip link show "$vx" >/dev/null 2>&1 && return 0
  set -- $(underlay)
  [ $# -eq 2 ] || { log "$name: no route to the central node $central"; return 1; }
  ip link del "$br" 2>/dev/null
  ip link add "$br" address "$mac" mtu "$mtu" type bridge &&
    ip link add "$vx" address "$mac" mtu "$mtu" type vxlan id "$vni" dstport 4789 \
      local "$2" dev "$1" nolearning &&
    ip link set "$vx" master "$br" &&
    ip -6 addr add "$address/64" dev "$br" nodad &&
    ip link set "$vx" up && ip link set "$br" up &&
    bridge fdb append $ZERO dev "$vx" dst "$central" &&
    log "$name: $address on $br (vni $vni, underlay $2 on $1, central $central)"
}

sync_one() {
  ip link show "$vx" >/dev/null 2>&1 || return 0
  set -- $(underlay)
  self=${"${2:-}"}
  # timeout(1), not wget -T: some busybox builds (Debian's 1.35) crash on -T
  body=$(timeout 5 wget -q -O - "http://[$central6]:$port/members" 2>/dev/null) || return 0
  want=$({ echo "$central"; printf '%s\n' "$body" | grep -o '"underlay":"[0-9.]*"' |
    cut -d'"' -f4; } | grep -vxF "$self" | sort -u)
  have=$(bridge fdb show dev "$vx" | sed -n "s/^$ZERO dst \([0-9.]*\).*/\1/p" | sort -u)
  for ip in $want; do
    printf '%s\n' "$have" | grep -qxF "$ip" || bridge fdb append $ZERO dev "$vx" dst "$ip"
  done
  for ip in $have; do
    printf '%s\n' "$want" | grep -qxF "$ip" || bridge fdb del $ZERO dev "$vx" dst "$ip"
  done
  return 0
}

down_one() {
  ip link del "$vx" 2>/dev/null
  ip link del "$br" 2>/dev/null
  return 0
}

show_one() {
  echo "$name $address $mac $vx $br"
}

each() {
  for f in "$DIR"/*.conf; do
    [ -f "$f" ] || continue
    load "$f" || continue
    "$1" || log "$name: $1 failed"
  done
}

case "${"${1:-run}"}" in
  up) each up_one ;;
  sync) each sync_one ;;
  down) each down_one ;;
  show) each show_one ;;
  run) while :; do each up_one; each sync_one; sleep "$POLL"; done ;;
  *) echo "usage: $0 up|sync|run|down|show" >&2; exit 2 ;;
esac
`;

/** The OpenRC service that runs the script (supervised) and removes the tunnels on stop. */
export const NODE_SERVICE = `#!/sbin/openrc-run
# mesh cluster networks (written by mesh): /etc/mesh/meshnet.sh
description="mesh cluster networks (VXLAN meshes)"
command=/etc/mesh/meshnet.sh
command_args=run
command_background=true
pidfile=/run/mesh-net.pid

depend() {
  need net
  after firewall
}

stop_post() {
  /etc/mesh/meshnet.sh down
}
`;
