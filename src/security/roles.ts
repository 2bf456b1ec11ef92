// security/roles.ts — what a client may do (issue 18 §3), carried in its certificate (and later in
// its tokens): reader (GET, listing), writer (+ PUT, DELETE), admin (+ repair, decommission,
// removenode, bucket properties, tokens). Each role includes the ones before it.

export const ROLES = ["reader", "writer", "admin"] as const;

export type Role = (typeof ROLES)[number];

export function isRole(text: string): text is Role {
  return (ROLES as readonly string[]).includes(text);
}
