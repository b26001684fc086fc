// Kubernetes name rules, the one place they are written: namespaces are DNS labels, workload names DNS subdomains.

export const DNS_LABEL = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$";
export const DNS_SUBDOMAIN = "^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

const label = new RegExp(DNS_LABEL);
const subdomain = new RegExp(DNS_SUBDOMAIN);

/** A namespace name (and most other names: ServiceAccounts, Roles). */
export const isDnsLabel = (s: string): boolean => label.test(s);
/** A workload name. */
export const isDnsSubdomain = (s: string): boolean => subdomain.test(s);
