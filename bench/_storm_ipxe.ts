/**
 * @module
 * What iPXE does with a script in bench/storm.ts: expand its settings
 * (`${mac}`, `${net0/mac:hexhyp}`, `${uuid}`, `${buildarch}`, ...), follow
 * `chain`, and collect the `kernel` and `initrd` lines. Pure.
 */

export interface IpxeSettings {
  readonly mac: string;
  readonly uuid: string;
  readonly ip: string;
  /** Option 93 architecture of the firmware: 0 BIOS (undionly.kpxe), 7 x64 UEFI. */
  readonly arch: number;
}

function settingValue(s: IpxeSettings, name: string): string | undefined {
  const key = name.replace(/^net0\//, "").replace(/^netX\//, "");
  switch (key) {
    case "mac":
      return s.mac;
    case "uuid":
      return s.uuid;
    case "ip":
      return s.ip;
    case "buildarch":
      return s.arch === 0 ? "i386" : "x86_64";
    case "platform":
      return s.arch === 0 ? "pcbios" : "efi";
    case "manufacturer":
      return "mesh-storm";
    case "product":
      return "simulated-node";
    case "serial":
      return s.uuid.slice(-12);
    case "hostname":
      return `node-${s.mac.replaceAll(":", "")}`;
    case "busid":
      return "0100000000";
    default:
      return undefined;
  }
}

function format(value: string, type: string | undefined): string {
  switch (type) {
    case "hexhyp":
      return value.replaceAll(":", "-");
    case "hexraw":
      return value.replaceAll(":", "");
    case "uristring":
      return encodeURIComponent(value);
    default:
      // A MAC's own type is hex with colons: ${mac:hex} is the same text.
      return value;
  }
}

/** Expands `${name}` and `${name:type}` the way iPXE does; unknown settings become "". */
export function expandSettings(text: string, s: IpxeSettings): string {
  return text.replace(/\$\{([^}:]+)(?::([a-z]+))?\}/g, (_, name: string, type?: string) => {
    const v = settingValue(s, name);
    return v === undefined ? "" : format(v, type);
  });
}

/** What a script asks for. */
export interface ScriptPlan {
  readonly kernel?: { url: string; args: string };
  readonly initrds: string[];
  /** `chain` target: fetch and run that script instead (the rest is not reached). */
  readonly chain?: string;
}

/** Resolves `url` against the script's own URL (iPXE accepts relative URIs). */
function resolve(url: string, base: string): string {
  try {
    return new URL(url, base).href;
  } catch {
    return url;
  }
}

/** Reads an iPXE script: kernel/initrd/chain lines (after expansion), others ignored. */
export function parseScript(text: string, base: string, s: IpxeSettings): ScriptPlan {
  let kernel: ScriptPlan["kernel"];
  const initrds: string[] = [];
  for (const raw of text.split("\n")) {
    const line = expandSettings(raw.trim(), s);
    if (line === "" || line.startsWith("#") || line.startsWith(":")) continue;
    const words = line.split(/\s+/);
    // Options such as `--name x` or `--autofree` come before the URL.
    let i = 1;
    while (i < words.length && words[i]!.startsWith("--")) i += words[i]!.includes("=") ? 1 : 2;
    const url = words[i];
    const args = words.slice(i + 1).join(" ");
    switch (words[0]) {
      case "kernel":
      case "imgexec":
        if (url) kernel = { url: resolve(url, base), args };
        break;
      case "initrd":
      case "module":
        if (url) initrds.push(resolve(url, base));
        break;
      case "chain":
        if (url) return { initrds, chain: resolve(url, base), ...(kernel ? { kernel } : {}) };
        break;
    }
  }
  return { initrds, ...(kernel ? { kernel } : {}) };
}

/** The `apkovl=` URL on a kernel command line, with Alpine's `{MAC}` filled in. */
export function apkovlUrl(args: string, mac: string): string | undefined {
  const m = /(?:^|\s)apkovl=(\S+)/.exec(args);
  return m?.[1]?.replaceAll("{MAC}", mac);
}
