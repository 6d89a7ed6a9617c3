/**
 * @module
 * `workloads/<name>.conf`: one KVM VM per file in the original Mesh Hypervisor
 * format, dot-separated `key=value` lines, `#` comments. Pure: text in, a
 * Workload (or null) and every problem as `file:line` out. Checks that need
 * other files (name = file name, unique uuids, meshes that exist) are in
 * load_workloads.ts.
 */
import type { ConfigIssue } from "../errors.ts";
import type { Parsed } from "./parse_lists.ts";
import { hint } from "./suggest.ts";
import type { VolumeSource, VolumeType, Workload, WorkloadNic, WorkloadVolume } from "./types.ts";

const STATIC_KEYS = [
  "name",
  "uuid",
  "platform.memory.size",
  "platform.cpu.threads",
  "platform.cpu.mode",
  "console.serial",
  "console.path",
] as const;
const VOLUME_KEYS = ["type", "path", "source"] as const;
const NETWORK_KEYS = ["mesh", "mac"] as const;
const VOLUME_TYPES: readonly VolumeType[] = ["qcow2", "raw", "iso"];

/** A volume or NIC id: it becomes a QEMU id (letter first) and part of a tap name. */
const ID_RE = /^[A-Za-z][A-Za-z0-9_-]{0,15}$/;
/** Names and uuids name files and directories: one word, no slash. */
const WORD_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const CPU_MODE_RE = /^[A-Za-z0-9][A-Za-z0-9_.,=+-]*$/;
const SIZE_RE = /^([0-9]+)([KMGT])$/;
const UNIT = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 } as const;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

interface Entry {
  readonly value: string;
  readonly line: number;
}

/** Every key a file may hold, with `<id>` as written by the user where the key has one. */
function candidates(id?: string): string[] {
  const v = id ?? "<id>";
  return [
    ...STATIC_KEYS,
    ...VOLUME_KEYS.map((k) => `platform.volume.${v}.${k}`),
    ...NETWORK_KEYS.map((k) => `platform.network.${v}.${k}`),
  ];
}

/** An absolute, normalised path without `..`, or the reason it is not one. */
function pathProblem(p: string): string | null {
  if (!p.startsWith("/")) return "must be an absolute path";
  if (/\s/.test(p)) return "must not contain white space";
  if (p.split("/").some((s) => s === "..")) return 'must not contain ".."';
  if (p.endsWith("/")) return "must name a file, not a directory";
  return null;
}

/**
 * A volume source: an http(s) URL, `/isos/<file>` or a bare file name (both
 * mean the central node's served /isos/ directory). Null when malformed.
 */
export function parseVolumeSource(text: string): VolumeSource | null {
  if (/^https?:\/\/[^\s/]+(\/\S*)?$/.test(text)) return { kind: "url", url: text };
  const rel = text.startsWith("/isos/") ? text.slice("/isos/".length) : text;
  if (text.startsWith("/") && !text.startsWith("/isos/")) return null;
  const parts = rel.split("/");
  const ok = parts.every((s) => /^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/.test(s));
  return ok && rel !== "" ? { kind: "isos", rel } : null;
}

/** `4G` → bytes, or null. */
export function parseMemorySize(text: string): number | null {
  const m = SIZE_RE.exec(text);
  if (!m) return null;
  const n = Number(m[1]!) * UNIT[m[2]! as keyof typeof UNIT];
  return n > 0 && Number.isSafeInteger(n) ? n : null;
}

/** Splits lines into keys; reports malformed lines, unknown keys and repeats. */
function readEntries(text: string, file: string, issues: ConfigIssue[]): Map<string, Entry> {
  const seen = new Map<string, Entry>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const t = lines[i]!.trim();
    if (t === "" || t.startsWith("#")) continue;
    const m = /^([A-Za-z0-9_.<>-]+)\s*=\s*(.*)$/.exec(t);
    if (!m) {
      issues.push({ file, line, message: `expected key=value, got "${t.slice(0, 60)}"` });
      continue;
    }
    const key = m[1]!;
    const value = m[2]!.replace(/^(["'])(.*)\1$/, "$2").trim();
    const dyn = /^platform\.(volume|network)\.([^.]+)\.([^.]+)$/.exec(key);
    const known = (STATIC_KEYS as readonly string[]).includes(key) ||
      (dyn !== null && (dyn[1] === "volume" ? VOLUME_KEYS : NETWORK_KEYS)
        .includes(dyn[3]! as never));
    if (!known) {
      const id = /^platform\.[^.]+\.([^.]+)\./.exec(key)?.[1];
      issues.push({ file, line, message: `unknown key "${key}"${hint(key, candidates(id))}` });
      continue;
    }
    if (dyn !== null && !ID_RE.test(dyn[2]!)) {
      issues.push({
        file,
        line,
        message: `${dyn[1]} id "${dyn[2]}" must be a letter then up to 15 letters, digits, _ or -`,
      });
      continue;
    }
    const before = seen.get(key);
    if (before) {
      issues.push({ file, line, message: `${key} is already set at line ${before.line}` });
      continue;
    }
    if (value === "") {
      issues.push({ file, line, message: `${key} has no value` });
      continue;
    }
    seen.set(key, { value, line });
  }
  return seen;
}

/** The ids used under `platform.<kind>.`, in order of first appearance (by line). */
function idsOf(seen: Map<string, Entry>, kind: "volume" | "network"): string[] {
  const first = new Map<string, number>();
  for (const [key, e] of seen) {
    const m = new RegExp(`^platform\\.${kind}\\.([^.]+)\\.`).exec(key);
    if (m && !first.has(m[1]!)) first.set(m[1]!, e.line);
  }
  return [...first].sort((a, b) => a[1] - b[1]).map(([id]) => id);
}

function parseVolumes(seen: Map<string, Entry>, file: string, issues: ConfigIssue[]) {
  const volumes: WorkloadVolume[] = [];
  const paths = new Map<string, string>();
  let ok = true;
  for (const id of idsOf(seen, "volume")) {
    const get = (k: string) => seen.get(`platform.volume.${id}.${k}`);
    const type = get("type"), path = get("path"), source = get("source");
    const firstLine = Math.min(...[type, path, source].flatMap((e) => e ? [e.line] : []));
    for (const [k, e] of [["type", type], ["path", path]] as const) {
      if (!e) {
        issues.push({
          file,
          line: firstLine,
          message: `volume ${id}: missing platform.volume.${id}.${k}`,
        });
        ok = false;
      }
    }
    if (type && !(VOLUME_TYPES as readonly string[]).includes(type.value)) {
      issues.push({
        file,
        line: type.line,
        message: `platform.volume.${id}.type must be qcow2, iso or raw, got "${type.value}"${
          hint(type.value, VOLUME_TYPES)
        }`,
      });
      ok = false;
    }
    const problem = path ? pathProblem(path.value) : null;
    if (path && problem) {
      issues.push({ file, line: path.line, message: `platform.volume.${id}.path ${problem}` });
      ok = false;
    } else if (path && paths.has(path.value)) {
      issues.push({
        file,
        line: path.line,
        message: `platform.volume.${id}.path ${path.value} is also volume ${
          paths.get(path.value)
        }'s`,
      });
      ok = false;
    } else if (path) paths.set(path.value, id);
    const src = source ? parseVolumeSource(source.value) : undefined;
    if (source && src === null) {
      issues.push({
        file,
        line: source.line,
        message: `platform.volume.${id}.source must be an http(s) URL, /isos/<file> or a file ` +
          `name under /isos/, got "${source.value}"`,
      });
      ok = false;
    }
    if (ok && type && path) {
      volumes.push({
        id,
        type: type.value as VolumeType,
        path: path.value,
        ...(src ? { source: src } : {}),
      });
    }
  }
  return { volumes, ok };
}

function parseNetworks(seen: Map<string, Entry>, file: string, issues: ConfigIssue[]) {
  const networks: WorkloadNic[] = [];
  const meshLines: Record<string, number> = {};
  let ok = true;
  for (const id of idsOf(seen, "network")) {
    const mesh = seen.get(`platform.network.${id}.mesh`);
    const mac = seen.get(`platform.network.${id}.mac`);
    if (!mesh) {
      issues.push({
        file,
        line: mac!.line,
        message: `network ${id}: missing platform.network.${id}.mesh (the mesh to attach to)`,
      });
      ok = false;
      continue;
    }
    if (!WORD_RE.test(mesh.value)) {
      issues.push({
        file,
        line: mesh.line,
        message: `platform.network.${id}.mesh must be a mesh name, got "${mesh.value}"`,
      });
      ok = false;
      continue;
    }
    const macText = mac?.value.toLowerCase().replaceAll("-", ":");
    if (mac && (!MAC_RE.test(macText!) || (parseInt(macText!.slice(0, 2), 16) & 1) === 1)) {
      issues.push({
        file,
        line: mac.line,
        message: `platform.network.${id}.mac must be a unicast MAC like 02:00:00:00:00:01, got ` +
          `"${mac.value}"`,
      });
      ok = false;
      continue;
    }
    meshLines[id] = mesh.line;
    networks.push({ id, mesh: mesh.value, ...(macText ? { mac: macText } : {}) });
  }
  return { networks, meshLines, ok };
}

/** Parses one workload file. `value` is null when a required key is missing or a value is bad. */
export function parseWorkloadConf(text: string, file: string): Parsed<Workload | null> {
  const issues: ConfigIssue[] = [];
  const seen = readEntries(text, file, issues);
  let ok = true;
  const bad = (e: Entry, message: string) => {
    issues.push({ file, line: e.line, message });
    ok = false;
  };
  const required = (key: string) => {
    const e = seen.get(key);
    if (!e) {
      issues.push({ file, message: `missing required key ${key}` });
      ok = false;
    }
    return e;
  };
  const name = required("name");
  if (name && !WORD_RE.test(name.value)) bad(name, `name must be one word, got "${name.value}"`);
  const uuid = required("uuid");
  if (uuid && !WORD_RE.test(uuid.value)) {
    bad(
      uuid,
      `uuid must be one word of letters, digits, _ . or - (it names a directory), got "${uuid.value}"`,
    );
  }
  const size = required("platform.memory.size");
  const bytes = size ? parseMemorySize(size.value) : null;
  if (size && bytes === null) {
    bad(
      size,
      `platform.memory.size must be a number and K, M, G or T, like 4G or 500M, got "${size.value}"`,
    );
  }
  const threadsEntry = required("platform.cpu.threads");
  const threads = threadsEntry && /^[0-9]+$/.test(threadsEntry.value)
    ? Number(threadsEntry.value)
    : 0;
  if (threadsEntry && !(threads >= 1 && threads <= 1024)) {
    bad(
      threadsEntry,
      `platform.cpu.threads must be a positive whole number, got "${threadsEntry.value}"`,
    );
  }
  const mode = seen.get("platform.cpu.mode");
  if (mode && !CPU_MODE_RE.test(mode.value)) {
    bad(
      mode,
      `platform.cpu.mode must be a QEMU CPU model like host or Penryn-v1, got "${mode.value}"`,
    );
  }
  const serial = seen.get("console.serial");
  if (serial && serial.value !== "on" && serial.value !== "off") {
    bad(serial, `console.serial must be on or off, got "${serial.value}"`);
  }
  const consolePath = seen.get("console.path");
  const cp = consolePath ? pathProblem(consolePath.value) : null;
  if (consolePath && cp) bad(consolePath, `console.path ${cp}`);
  if (consolePath && serial?.value === "off") {
    bad(consolePath, "console.path is set but console.serial is off");
  }
  const vols = parseVolumes(seen, file, issues);
  const nets = parseNetworks(seen, file, issues);
  if (!ok || !vols.ok || !nets.ok) return { value: null, issues };
  const workload: Workload = {
    file,
    name: name!.value,
    uuid: uuid!.value,
    memory: { text: size!.value, bytes: bytes! },
    cpu: { threads, mode: mode?.value ?? "host" },
    volumes: vols.volumes,
    networks: nets.networks,
    console: {
      serial: serial?.value !== "off",
      ...(consolePath ? { path: consolePath.value } : {}),
    },
    at: { name: name!.line, uuid: uuid!.line, mesh: nets.meshLines },
  };
  return { value: workload, issues };
}
