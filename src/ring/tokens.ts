// ring/tokens.ts — token allocation: the tokens a new node claims on the ring. One import path for
// every caller; the parts live beside it:
//   random-tokens.ts          tokens that need no ring: at random (Dynamo's strategy 1, kept for
//                             comparison and tests) and evenly spaced (the first node of a cluster)
//   balanced-tokens.ts        the allocator nodes use, with its theory of operation; it builds on
//   allocation-ring.ts        the ring it works on, and placing and undoing a token exactly,
//   allocation-objective.ts   what it lowers, and the measured weights of each term,
//   allocation-candidates.ts  where a token may go, ranked by a local score
//   token-spread.ts           arcs of the ring and how bunched one node's tokens are (issue 21)

export { balancedTokens } from "./balanced-tokens.js";
export { evenlySpacedTokens, randomTokens } from "./random-tokens.js";
export { arcOf, tokensInFullestStretch } from "./token-spread.js";
