// Records Content-Security-Policy violations so they can be seen (and tested):
// a classic script, loaded before everything else, so it sees them all.
"use strict";
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push({
    directive: e.violatedDirective,
    blocked: e.blockedURI,
    source: e.sourceFile + ":" + e.lineNumber,
  });
  console.warn("CSP violation:", e.violatedDirective, e.blockedURI);
});
