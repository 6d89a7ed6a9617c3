/**
 * @module
 * Turns a boot decision into reply fields (siaddr, sname, file, options 60,
 * 66, 67, 43, 175, 97). Shared by the authoritative and proxy responders. Pure.
 */
import type { BootDecision } from "../boot/mod.ts";
import { formatIpv4 } from "../wire/mod.ts";
import { FILE_LENGTH, IpxeSubOpt, Opt } from "./constants.ts";
import type { BootClient } from "./client.ts";
import { textValue } from "./option_values.ts";
import { encodePxeVendorOptions, encodeSubOptions } from "./pxe_options.ts";

/** Header fields and options that carry the boot file. */
export interface BootFields {
  readonly siaddr: number;
  readonly sname: string;
  readonly file: string;
  readonly options: readonly (readonly [number, Uint8Array])[];
}

/** Options for {@link bootFields}. */
export interface BootFieldsOptions {
  /**
   * Also echo option 60 "PXEClient" with option 43 sub-option 6 = 8 ("boot
   * the file in this reply, skip discovery") to TFTP PXE clients. Off by
   * default: like dnsmasq's dhcp-boot and ISC dhcpd's filename, a plain reply
   * boots SeaBIOS and OVMF, while some EDK2 builds treat a PXEClient reply
   * as a boot-server offer. Turn on for firmware that insists on it.
   */
  readonly pxeVendorEcho?: boolean;
}

/** Reply fields for a boot decision; null for "none". Option 97 is echoed when present. */
export function bootFields(
  decision: BootDecision,
  client: BootClient,
  opts: BootFieldsOptions = {},
): BootFields | null {
  const options: [number, Uint8Array][] = [];
  let siaddr = 0;
  let sname = "";
  let file = "";
  switch (decision.kind) {
    case "none":
      return null;
    case "tftp": {
      siaddr = decision.siaddr;
      sname = formatIpv4(siaddr);
      file = decision.file;
      options.push([Opt.TftpServerName, textValue(sname)], [Opt.BootfileName, textValue(file)]);
      if (opts.pxeVendorEcho && client.isPxe) {
        options.push([Opt.VendorClassIdentifier, textValue("PXEClient")]);
        options.push([Opt.VendorSpecific, encodePxeVendorOptions({ discoveryControl: 8 })]);
      }
      break;
    }
    case "http":
      file = decision.url;
      options.push([Opt.BootfileName, textValue(decision.url)]);
      // EDK2 HTTP boot ignores offers that do not echo "HTTPClient".
      options.push([Opt.VendorClassIdentifier, textValue(decision.vendorClass)]);
      break;
    case "script":
      file = decision.url;
      options.push([Opt.BootfileName, textValue(decision.url)]);
      // iPXE waits ~2 s for ProxyDHCP offers unless told there are none.
      options.push([
        Opt.IpxeEncapsulated,
        encodeSubOptions([[IpxeSubOpt.NoPxeDhcp, Uint8Array.of(1)]]),
      ]);
      break;
  }
  // The header field holds 127 characters plus NUL; longer URLs go in option 67 only.
  if (file.length >= FILE_LENGTH) file = "";
  if (client.machineId !== undefined) options.push([Opt.ClientMachineIdentifier, client.machineId]);
  return { siaddr, sname, file, options };
}
