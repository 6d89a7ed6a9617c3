/**
 * @module
 * The SQLite schema as an ordered list of migrations. `PRAGMA user_version`
 * holds how many have been applied; a migration is never edited once it has
 * landed, only followed by a new one.
 */

/** Migrations in order; index + 1 is the schema version they produce. */
export const MIGRATIONS: readonly string[] = [
  // 1: the tables every service writes.
  `
  CREATE TABLE nodes (
    id TEXT PRIMARY KEY,          -- 8-hex node id
    mac TEXT,                     -- last MAC seen (lower-case colon form)
    uuid TEXT,                    -- SMBIOS UUID as iPXE reported it
    ip TEXT,                      -- last IPv4 seen
    machine TEXT,                 -- /host0 machine folder, or 'default'
    stage TEXT NOT NULL,          -- furthest boot stage reached in the current boot
    boot_started INTEGER NOT NULL,-- unix ms of the 'discovered' event that began the current boot
    first_seen INTEGER NOT NULL,  -- unix ms
    last_seen INTEGER NOT NULL    -- unix ms
  );
  CREATE INDEX nodes_mac ON nodes(mac);

  CREATE TABLE node_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    node_id TEXT,                 -- NULL while only the MAC is known
    mac TEXT,
    ip TEXT,
    at INTEGER NOT NULL,          -- unix ms
    stage TEXT NOT NULL,
    source TEXT NOT NULL,         -- dhcp | tftp | http | node
    detail TEXT                   -- JSON
  );
  CREATE INDEX node_events_node ON node_events(node_id, seq);
  CREATE INDEX node_events_mac ON node_events(mac, seq);

  CREATE TABLE leases (
    ip INTEGER PRIMARY KEY,       -- IPv4 as unsigned 32-bit number
    mac TEXT NOT NULL,
    client_id TEXT,               -- option 61 as lower-case hex
    node_id TEXT,
    hostname TEXT,
    state TEXT NOT NULL,          -- bound | released | expired | declined
    starts_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    segment TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX leases_mac ON leases(mac);

  CREATE TABLE segments (
    name TEXT PRIMARY KEY,        -- segment name (first interface name by default)
    interfaces TEXT NOT NULL,     -- JSON array of interface names sharing one L2
    mode TEXT NOT NULL,           -- server | proxy | off
    subnet TEXT,                  -- CIDR served or detected
    dhcp_server TEXT,             -- address of an existing DHCP server, if any
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE subnet_allocations (
    cidr TEXT PRIMARY KEY,
    segment TEXT NOT NULL,
    allocated_at INTEGER NOT NULL
  );
  `,
  // 2: the network as the scan found it. The tables of migration 1 for this
  // were never written; their shape (subnet as key, no last-seen time) could
  // not hold an allocation for a segment that is away for a while.
  `
  DROP TABLE segments;
  DROP TABLE subnet_allocations;

  CREATE TABLE segments (
    id TEXT PRIMARY KEY,          -- stable segment id ("seg-" + lowest member MAC)
    report TEXT NOT NULL,         -- JSON: the segment as "mesh net show --json" prints it
    macs TEXT NOT NULL,           -- JSON array of member interface MACs (carries the id over)
    updated_at INTEGER NOT NULL   -- unix ms of the scan that produced it
  );

  CREATE TABLE subnet_allocations (
    segment TEXT PRIMARY KEY,     -- segment id
    subnet TEXT NOT NULL,         -- CIDR
    last_seen INTEGER NOT NULL    -- unix ms the segment last needed it
  );

  CREATE TABLE net_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,          -- unix ms
    kind TEXT NOT NULL,           -- scan | segment-added | segment-removed | segment-changed | subnet | address
    segment TEXT,
    detail TEXT                   -- JSON
  );
  `,
  // 3: KVM workloads (mesh workload): where each runs and how it went. Their
  // events go to net_events (kind workload-*), so mesh events shows them.
  `
  CREATE TABLE workloads (
    name TEXT PRIMARY KEY,        -- the workload's name (workloads/<name>.conf)
    uuid TEXT NOT NULL,
    node_id TEXT,                 -- node it runs (or last ran) on
    state TEXT NOT NULL,          -- running | stopped | failed
    pid INTEGER,                  -- qemu's pid on that node
    started_at INTEGER,           -- unix ms
    updated_at INTEGER NOT NULL,  -- unix ms
    last_error TEXT
  );
  CREATE INDEX workloads_node ON workloads(node_id);
  `,
];
