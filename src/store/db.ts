/**
 * @module
 * Opens `<state>/mesh.db` with node:sqlite in WAL mode and applies migrations.
 */
import { DatabaseSync } from "node:sqlite";
import { MIGRATIONS } from "./schema.ts";

/** An open state database. */
export interface Store {
  readonly db: DatabaseSync;
  readonly path: string;
  /** Schema version after migrations. */
  readonly version: number;
  close(): void;
}

/**
 * Opens (creating if needed) the database at `path` and migrates it.
 * WAL lets the CLI read while the daemon writes; synchronous=NORMAL in WAL
 * mode survives a crash of the process (kill -9), which is the failure the
 * daemon must tolerate; a power cut may lose the last commits.
 * `busy_timeout` lets a short-lived CLI wait for a daemon's write to finish.
 */
export function openStore(path: string, opts: { readOnly?: boolean } = {}): Store {
  const db = new DatabaseSync(path, opts.readOnly ? { readOnly: true } : {});
  db.exec("PRAGMA busy_timeout = 5000");
  if (!opts.readOnly) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec("PRAGMA foreign_keys = ON");
  }
  let version = (db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version;
  if (version > MIGRATIONS.length) {
    db.close();
    throw new Error(
      `${path}: schema version ${version} is newer than this mesh (${MIGRATIONS.length}); upgrade mesh`,
    );
  }
  if (!opts.readOnly) {
    while (version < MIGRATIONS.length) {
      db.exec("BEGIN IMMEDIATE");
      try {
        db.exec(MIGRATIONS[version]!);
        db.exec(`PRAGMA user_version = ${version + 1}`);
        db.exec("COMMIT");
      } catch (e) {
        db.exec("ROLLBACK");
        throw e;
      }
      version++;
    }
  }
  return { db, path, version, close: () => db.close() };
}
