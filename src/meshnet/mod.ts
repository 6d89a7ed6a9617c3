/**
 * @module
 * Cluster networks ("meshes"): unicast VXLAN + IPv6 L2 networks between the
 * nodes, one per /host0/network/*.conf plus the default mesh of every node.
 * Pure: each node's deterministic address and MAC in a mesh, who is a member,
 * the member list the central node serves at `http://[<prefix>::1]:<port>/members`,
 * the flood-entry plan, and the files a node's overlay gets (conf, sh script,
 * OpenRC service). The links themselves are made by src/net (vxlan_links.ts)
 * for the daemon, and by the script on the nodes.
 */
export {
  CENTRAL_ID,
  centralAddress,
  interfaceIdHex,
  linkNames,
  meshAddress,
  meshMac,
  prefix64,
} from "./address.ts";
export {
  fdbPlan,
  includes,
  machineFor,
  type Member,
  type MemberList,
  memberList,
  meshesOf,
  type MeshNode,
  renderMemberList,
} from "./membership.ts";
export {
  NODE_PATHS,
  NODE_SCRIPT,
  NODE_SERVICE,
  type NodeMeshConf,
  renderNodeConf,
} from "./node_script.ts";
export { type GeneratedFile, type MeshOverlay, meshOverlay, nodeMeshConfs } from "./node_files.ts";
