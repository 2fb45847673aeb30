"""Times search routes: python3 search_load.py BASE TOKEN REQUESTS CLIENTS.

Each client sends REQUESTS requests per route, sequentially over one
keep-alive connection, rotating through the route's queries; prints a
Markdown table of p50/p99/max per route (all clients together)."""

import http.client
import sys
import threading
import time
import urllib.parse

# Seeded text draws ~70 words (each in a large share of posts), @mentions
# of user1..user100000 and 8 hashtags: common words are the worst case.
ROUTES = {
    "posts, one common word": ("/search/posts/", ["coffee", "morning", "rust", "night", "terrible"]),
    "posts, two common words": ("/search/posts/", ["coffee morning", "build ship", "quiet night"]),
    "posts, rare or absent word": ("/search/posts/", ["user77", "zebra", "café", "мир"]),
    "accounts, prefix": ("/search/accounts/", ["user1", "user42", "user9999", "@user500"]),
    "accounts, similar only": ("/search/accounts/", ["usr1234", "usre77", "xuser5"]),
    "hashtags, prefix": ("/search/hashtags/", ["r", "ru", "#t", "po", "zz"]),
    "hashtag timeline": (None, ["rustlang", "postgres", "til", "weekend"]),
    "who to follow": ("/user/suggestions/", [None]),
}


def run(base, token, route, queries, n, out):
    host = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(n):
        q = queries[i % len(queries)]
        if route is None:
            path = f"/post/tag/{urllib.parse.quote(q)}/"
        elif q is None:
            path = route
        else:
            path = f"{route}?q={urllib.parse.quote(q)}"
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        res = conn.getresponse()
        res.read()
        out.append((time.perf_counter() - start) * 1000)
        if res.status != 200:
            raise SystemExit(f"{path}: {res.status}")
    conn.close()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    base, token, n, clients = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    print(f"{clients} client{'s' if clients > 1 else ''}, {n} requests each per route:")
    print()
    print("| route | queries | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, (route, queries) in ROUTES.items():
        out = []
        threads = [threading.Thread(target=run, args=(base, token, route, queries, n, out)) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        shown = ", ".join(q for q in queries if q) or "(none)"
        print(f"| {name} | {shown} | {pct(out, 50):.1f} | {pct(out, 99):.1f} | {max(out):.1f} |")


if __name__ == "__main__":
    main()
