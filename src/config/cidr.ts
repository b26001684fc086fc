// IP address ranges (CIDR) for TRUSTED_PROXIES: parsed once at start, matched against each peer address.

export interface Cidr {
  /** 4 or 16 */
  bytes: number;
  base: bigint;
  prefix: number;
  text: string;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = (n << 8n) | BigInt(Number(p));
  }
  return n;
}

function parseV6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.split("::").length > 2) return undefined;
  let tail4: bigint | undefined;
  // An IPv4 tail (::ffff:10.0.0.1) stands for the last two groups.
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    tail4 = parseV4(s.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    s = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const [head, rest] = s.includes("::") ? s.split("::") : [s, undefined];
  const groups = (x: string | undefined) => (x ? x.split(":") : []);
  const h = groups(head);
  const t = groups(rest);
  const fill = rest === undefined ? 0 : 8 - h.length - t.length;
  if (rest === undefined ? h.length !== 8 : fill < 1) return undefined;
  let n = 0n;
  for (const g of [...h, ...Array(fill).fill("0"), ...t]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail4 !== undefined) n = (n & ~0xffffffffn) | tail4;
  return n;
}

/** An address as (bytes, value); IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as the IPv4 address. */
export function parseAddress(raw: string): { bytes: number; value: bigint } | undefined {
  const s = raw.trim().replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const v4 = parseV4(s);
  if (v4 !== undefined) return { bytes: 4, value: v4 };
  const v6 = parseV6(s);
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { bytes: 4, value: v6 & 0xffffffffn };
  return { bytes: 16, value: v6 };
}

/** "10.0.0.0/8", "::1", "fd00::/8"; a bare address is a single host. Throws a plain Error saying why. */
export function parseCidr(raw: string): Cidr {
  const text = raw.trim();
  const [addr, len, extra] = text.split("/");
  const a = parseAddress(addr ?? "");
  if (!a || extra !== undefined || (addr ?? "").startsWith("[")) throw new Error(`${JSON.stringify(raw)} is not an IP address or CIDR range such as 10.0.0.0/8 or fd00::/8`);
  const max = a.bytes * 8;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) throw new Error(`${JSON.stringify(raw)}: the prefix length must be a number 0..${max}`);
  const prefix = len === undefined ? max : Number(len);
  if (prefix > max) throw new Error(`${JSON.stringify(raw)}: the prefix length must be 0..${max}`);
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(max - prefix);
  return { bytes: a.bytes, base: a.value & mask, prefix, text };
}

export function inCidr(c: Cidr, address: string): boolean {
  const a = parseAddress(address);
  if (!a || a.bytes !== c.bytes) return false;
  const max = c.bytes * 8;
  return a.value >> BigInt(max - c.prefix) === c.base >> BigInt(max - c.prefix);
}

/** Whether a peer address falls in any of the ranges; an unknown (empty) address never does. */
export function inAny(ranges: Cidr[], address: string): boolean {
  return address !== "" && ranges.some((c) => inCidr(c, address));
}
