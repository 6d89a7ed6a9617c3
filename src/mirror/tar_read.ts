/**
 * @module
 * A small ustar reader for what apk archives hold: the signature tar (cut:
 * no end-of-archive blocks, as `abuild-tar --cut` writes it), the control
 * tar with `.PKGINFO`, and the index tar with `APKINDEX` and `DESCRIPTION`.
 * GNU long names (`L`) and pax `path` records are honoured so a long key
 * name still reads. Pure.
 */

/** An archive that cannot be read. */
export class TarError extends Error {
  override name = "TarError";
}

/** One regular file (other entry types are skipped). */
export interface TarFile {
  readonly name: string;
  readonly data: Uint8Array;
}

const BLOCK = 512;
const decoder = new TextDecoder();

function field(h: Uint8Array, at: number, len: number): string {
  const raw = h.subarray(at, at + len);
  const nul = raw.indexOf(0);
  return decoder.decode(nul < 0 ? raw : raw.subarray(0, nul));
}

function size(h: Uint8Array): number {
  // Base-256 (GNU) for sizes beyond 8 GiB: top bit of the first byte set.
  if (h[124]! & 0x80) {
    let n = 0;
    for (let i = 125; i < 136; i++) n = n * 256 + h[i]!;
    return n;
  }
  const text = field(h, 124, 12).trim();
  if (!/^[0-7]*$/.test(text)) throw new TarError(`bad size field "${text}"`);
  return text === "" ? 0 : parseInt(text, 8);
}

function checksumOk(h: Uint8Array): boolean {
  const want = parseInt(field(h, 148, 8).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === want;
}

/** The pax `path` record of an extended header, if any. */
function paxPath(data: Uint8Array): string | undefined {
  const text = decoder.decode(data);
  for (const rec of text.split("\n")) {
    const m = /^\d+ path=(.*)$/.exec(rec);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The regular files of `bytes` in order. Ends at a zero block or at the end
 * of the data (a cut archive); a header or body that runs past the end is
 * an error, so a truncated archive never passes for a short one.
 */
export function readTar(bytes: Uint8Array): TarFile[] {
  const files: TarFile[] = [];
  let at = 0;
  let longName: string | undefined;
  while (at < bytes.length) {
    if (at + BLOCK > bytes.length) throw new TarError(`truncated tar header at byte ${at}`);
    const h = bytes.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    if (!checksumOk(h)) throw new TarError(`bad tar header checksum at byte ${at}`);
    const len = size(h);
    const body = at + BLOCK;
    if (body + len > bytes.length) throw new TarError(`truncated tar entry at byte ${at}`);
    const data = bytes.subarray(body, body + len);
    const type = String.fromCharCode(h[156]!);
    const prefix = field(h, 257, 6) === "ustar" ? field(h, 345, 155) : "";
    const name = longName ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100));
    at = body + Math.ceil(len / BLOCK) * BLOCK;
    if (type === "L") {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === "x") {
      longName = paxPath(data) ?? longName;
      continue;
    }
    longName = undefined;
    if (type === "0" || type === "\0" || type === "7") files.push({ name, data });
  }
  return files;
}
