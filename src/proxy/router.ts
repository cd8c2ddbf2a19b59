import type { Alias, PriorityGroup, Route } from "../config/types.ts";

export interface Plan {
  /** Candidates in the order they are tried: not cooling, each backend+model once. */
  readonly routes: Route[];
  /** How many candidates were skipped because they are cooling down. */
  readonly cooling: number;
  /** Milliseconds until the first cooling candidate is free again (0 if none is cooling). */
  readonly firstFreeMs: number;
  /** How many routes were left out because they cannot serve the request at all (its endpoint, their protocol). */
  readonly unservable: number;
}

/** Random order within a group: uniform when weights are equal, else weighted (Efraimidis–Spirakis). */
export function orderGroup(group: PriorityGroup, random: () => number): Route[] {
  const routes = group.routes.slice();
  if (routes.length < 2) return routes;
  if (!group.weighted) {
    for (let i = routes.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [routes[i], routes[j]] = [routes[j]!, routes[i]!];
    }
    return routes;
  }
  // A route with weight w comes first with probability w / sum(weights).
  const keyed = routes.map((route) => ({ route, key: -Math.log(1 - random()) / route.weight }));
  keyed.sort((a, b) => a.key - b.key);
  return keyed.map((k) => k.route);
}

/**
 * The routes to try for an alias, right now: its priority groups and then those of
 * its L2 fallback aliases (already flattened at config time), cooling pairs left out.
 */
export function plan(alias: Alias, remaining: (key: string) => number, random: () => number = Math.random, servable: (route: Route) => boolean = () => true): Plan {
  const routes: Route[] = [];
  let cooling = 0;
  let unservable = 0;
  let firstFreeMs = Infinity;
  for (const group of alias.groups) {
    for (const route of orderGroup(group, random)) {
      if (!servable(route)) {
        unservable++;
        continue;
      }
      const ms = remaining(route.key);
      if (ms > 0) {
        cooling++;
        if (ms < firstFreeMs) firstFreeMs = ms;
      } else routes.push(route);
    }
  }
  return { routes, cooling, firstFreeMs: cooling > 0 ? firstFreeMs : 0, unservable };
}
