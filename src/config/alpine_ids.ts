/**
 * @module
 * User and group names of a stock Alpine system (alpine-baselayout's
 * /etc/passwd and /etc/group), so manifests can say `root:wheel:0640`.
 * Names outside this table must be given as numbers: the overlay is built
 * here, not on the node, so only ids Alpine ships can be resolved.
 */

export const ALPINE_USERS: Readonly<Record<string, number>> = {
  root: 0,
  bin: 1,
  daemon: 2,
  adm: 3,
  lp: 4,
  sync: 5,
  shutdown: 6,
  halt: 7,
  mail: 8,
  news: 9,
  uucp: 10,
  operator: 11,
  man: 13,
  postmaster: 14,
  cron: 16,
  ftp: 21,
  sshd: 22,
  at: 25,
  squid: 31,
  xfs: 33,
  games: 35,
  cyrus: 85,
  vpopmail: 89,
  ntp: 123,
  smmsp: 209,
  guest: 405,
  nobody: 65534,
};

export const ALPINE_GROUPS: Readonly<Record<string, number>> = {
  root: 0,
  bin: 1,
  daemon: 2,
  sys: 3,
  adm: 4,
  tty: 5,
  disk: 6,
  lp: 7,
  mem: 8,
  kmem: 9,
  wheel: 10,
  floppy: 11,
  mail: 12,
  news: 13,
  uucp: 14,
  man: 15,
  cron: 16,
  console: 17,
  audio: 18,
  cdrom: 19,
  dialout: 20,
  ftp: 21,
  sshd: 22,
  input: 23,
  at: 25,
  tape: 26,
  video: 27,
  netdev: 28,
  readproc: 30,
  squid: 31,
  xfs: 33,
  kvm: 34,
  games: 35,
  shadow: 42,
  cdrw: 80,
  "www-data": 82,
  usb: 85,
  vpopmail: 89,
  users: 100,
  ntp: 123,
  nofiles: 200,
  smmsp: 209,
  locate: 245,
  abuild: 300,
  utmp: 406,
  ping: 999,
  nogroup: 65533,
  nobody: 65534,
};

function invert(table: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  const m = new Map<number, string>();
  for (const [name, id] of Object.entries(table)) if (!m.has(id)) m.set(id, name);
  return m;
}

/** id → first name, for tar uname/gname when a manifest gave a number. */
export const ALPINE_USER_NAMES: ReadonlyMap<number, string> = invert(ALPINE_USERS);
export const ALPINE_GROUP_NAMES: ReadonlyMap<number, string> = invert(ALPINE_GROUPS);
