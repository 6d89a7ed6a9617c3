/**
 * @module
 * `mesh lab`: a throw-away virtual cluster (namespaces, bridges, dnsmasq,
 * `mesh serve` in auto mode and booting nodes) on one Linux machine.
 */
export { cleanLab, type LabOptions, labUnavailable, runLab } from "./lab.ts";
