"""First load: bytes transferred and time to first render, measured in the browser."""

from helpers import BASE, By, BrowserTest, create_user, http, unique

BUDGET_BYTES = 100 * 1024


class FirstLoadTest(BrowserTest):
    def test_first_load_is_under_100_kb_and_renders_quickly(self):
        _, token = create_user(unique("perf"))
        for i in range(20):  # a full first page of posts, as a real feed has
            http("POST", "/post/", {"text": f"Post number {i}: " + "a reasonably long sentence of text " * 6}, token)
        d = self.driver()  # a fresh profile: nothing cached
        d.get(BASE + "/")
        self.wait(d).until(lambda _: len(d.find_elements(By.CSS_SELECTOR, "article.post")) >= 20)
        self.wait(d).until(lambda _: d.execute_script("return document.readyState") == "complete")
        m = d.execute_script(
            """
            const nav = performance.getEntriesByType('navigation')[0];
            const res = performance.getEntriesByType('resource');
            const fcp = performance.getEntriesByName('first-contentful-paint')[0];
            const fp = performance.getEntriesByName('first-paint')[0];
            return {
              nav: nav.transferSize, navEncoded: nav.encodedBodySize,
              resources: res.map(r => [r.name.replace(location.origin, ''), r.transferSize, r.encodedBodySize, r.decodedBodySize]),
              fcp: fcp ? fcp.startTime : null, fp: fp ? fp.startTime : null,
              domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
            };
            """
        )
        total = m["nav"] + sum(r[1] for r in m["resources"])
        print(f"\n  first load: {total / 1024:.1f} KB transferred over {1 + len(m['resources'])} requests")
        print(f"    {'/':40} {m['nav']:>7} B")
        for name, transfer, encoded, decoded in m["resources"]:
            print(f"    {name[:40]:40} {transfer:>7} B  (body {encoded} B, {decoded} B unzipped)")
        print(f"  first-contentful-paint: {m['fcp']:.0f} ms, DOMContentLoaded: {m['domContentLoaded']:.0f} ms, load: {m['load']:.0f} ms")
        self.assertGreater(total, 0, "transferSize unavailable")
        self.assertLessEqual(total, BUDGET_BYTES, f"first load transferred {total} bytes")
        self.assertIsNotNone(m["fcp"], "no first-contentful-paint entry")
        self.assertLess(m["fcp"], 3000)
        # More pages load as the list scrolls (IntersectionObserver), and the
        # "Load more" button does the same from the keyboard.
        more = d.find_element(By.CSS_SELECTOR, "section.list button.more")
        self.assertTrue(more.is_displayed())
        d.execute_script("arguments[0].scrollIntoView()", more)
        self.wait(d).until(lambda _: len(d.find_elements(By.CSS_SELECTOR, "article.post")) > 20)
        ids = d.execute_script("return [...document.querySelectorAll('article.post')].map(a => Number(a.dataset.postId))")
        self.assertEqual(ids, sorted(ids, reverse=True), "pages repeat or skip posts")
        self.assertEqual(len(ids), len(set(ids)))
        # Scripts and styles really came gzipped.
        for name, transfer, encoded, decoded in m["resources"]:
            if name.endswith((".js", ".css")) and decoded > 2048:
                self.assertLess(encoded, decoded, f"{name} was not compressed")
