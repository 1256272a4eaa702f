/* The clinic terminal's service worker (issue 25), served as /visits/sw.js (scope /visits/).

   It keeps the new-visit page and its assets so the terminal opens while the
   server cannot be reached: the page network first (a fresh form and token when
   online, the last one kept when not), static files from the cache first when their
   names carry a content hash (they never change), network first otherwise.  It keeps
   no data: the catalogue, roster and queued visits live in IndexedDB, written by
   terminal-offline.js.  Nothing but GET requests of this origin is touched. */
"use strict";

var CACHE = "terminal-v1";
var PAGE = "/visits/new";
var UNSENT = "/visits/new?unsent";  // a Cache API key, never a request
var HASHED = /\.[0-9a-f]{12}\.(?:js|css|svg|woff2?)$/;

self.addEventListener("install", function () { self.skipWaiting(); });

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.filter(function (n) { return n !== CACHE; })
        .map(function (n) { return caches.delete(n); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function keep(cache, url, response) {
  // Only a real answer for the page itself: never a login page it was redirected to.
  if (response && response.ok && !response.redirected && response.type === "basic") {
    return cache.put(url, response);
  }
  return Promise.resolve();
}

/* The page lists what it needs (its own address, its scripts and style sheets): the
   first load is not served through this worker, so it asks for them once. */
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "keep" || !Array.isArray(data.urls)) return;
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(data.urls.map(function (url) {
      var u = new URL(url, self.location.origin);
      if (u.origin !== self.location.origin) return null;
      return cache.match(u.pathname === PAGE ? PAGE : u.href).then(function (hit) {
        if (hit && u.pathname !== PAGE) return null;
        return fetch(u.href, { credentials: "same-origin" }).then(function (r) {
          return keep(cache, u.pathname === PAGE ? PAGE : u.href, r);
        }).catch(function () { return null; });
      });
    }));
  }).then(function () {
    return caches.open(CACHE);
  }).then(function (cache) {
    return cache.keys().then(function (keys) {
      return Promise.all(keys.map(function (k) {
        return cache.match(k).then(function (r) { return r.clone().arrayBuffer(); })
          .then(function (b) { return b.byteLength; });
      }));
    });
  }).then(function (sizes) {
    var bytes = sizes.reduce(function (a, b) { return a + b; }, 0);
    if (event.source) event.source.postMessage({ type: "kept", entries: sizes.length, bytes: bytes });
  }));
});

/* A save posted while the link drops (the page thought it was online): its fields
   are kept for the page to restore and queue under the form's own key, so nothing
   typed is lost and, had the post reached the server after all, nothing is doubled. */
function keepUnsent(request) {
  return request.formData().then(function (data) {
    var fields = {};
    data.forEach(function (value, name) { (fields[name] = fields[name] || []).push(String(value)); });
    var body = JSON.stringify({ fields: fields, failed_at: Date.now() });
    return caches.open(CACHE).then(function (cache) {
      return cache.put(UNSENT, new Response(body, { headers: { "Content-Type": "application/json" } }));
    });
  }).then(function () { return caches.match(PAGE); }).then(function (hit) {
    return hit || Response.error();
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && request.mode === "navigate" && url.pathname === PAGE) {
    var copy = request.clone();
    event.respondWith(fetch(request).catch(function () { return keepUnsent(copy); }));
    return;
  }
  if (request.method !== "GET") return;

  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(
      fetch(request).then(function (response) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { return keep(cache, PAGE, copy); });
        return response;
      }).catch(function () {
        return caches.match(PAGE).then(function (hit) {
          return hit || Response.error();
        });
      })
    );
    return;
  }

  if (url.pathname.indexOf("/static/") === 0) {
    if (HASHED.test(url.pathname)) {
      event.respondWith(caches.match(request).then(function (hit) {
        return hit || fetch(request).then(function (response) {
          var copy = response.clone();
          caches.open(CACHE).then(function (cache) { return keep(cache, request.url, copy); });
          return response;
        });
      }));
    } else {
      event.respondWith(fetch(request).then(function (response) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { return keep(cache, request.url, copy); });
        return response;
      }).catch(function () {
        return caches.match(request).then(function (hit) { return hit || Response.error(); });
      }));
    }
  }
});
