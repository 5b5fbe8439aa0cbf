// bluegreen's per-request routing decision, for nginx's njs (0.7.9 and later).
//
// A switch never reloads nginx: it publishes a new generation directory and
// moves the `current` symlink onto it (one atomic rename); every request reads
// current/state.json, so the next request already follows the new state. A
// state that cannot be read (missing, torn, not JSON) falls back to
// previous/state.json, the last good one, and never to a guess.
//
// Kept to the ES5 that njs 0.7 runs: var, function, no arrow functions.

var fs = require("fs");
var crypto = require("crypto");

// bluegreen:layout begin (rendered from bluegreen/router/layout.py)
var ROOT = "/etc/nginx/bluegreen/";
var STATE_FILE = "state.json";
var CURRENT = "current";
var PREVIOUS = "previous";
var COOKIE_KEY = "cookie.key";
var STICKY_COOKIE = "bg_bucket";
var TLS_CURRENT = "tls/current";
// bluegreen:layout end

// One read per request: the route and the cookie of a request come from the same state,
// and the router's CPU is not spent parsing it twice.
var memo = { key: null, state: null };

function readState(r) {
    var key = r.variables.request_id;
    if (key && memo.key === key) {
        return memo.state;
    }
    var state = null;
    var names = [CURRENT, PREVIOUS];
    for (var i = 0; i < names.length && state === null; i++) {
        try {
            var found = JSON.parse(fs.readFileSync(ROOT + names[i] + "/" + STATE_FILE, "utf8"));
            if (found && found.weights && found.targets) {
                found.source = names[i];
                state = found;
            }
        } catch (e) {
            // unreadable: try the last good one
        }
    }
    memo.key = key || null;
    memo.state = state;
    memo.cookieKey = undefined;
    return state;
}

// The router's own secret (written when its volume is seeded); null when there is none,
// and then no cookie is set or believed.
function cookieKey() {
    if (memo.cookieKey === undefined) {
        try {
            memo.cookieKey = fs.readFileSync(ROOT + COOKIE_KEY, "utf8").trim() || null;
        } catch (e) {
            memo.cookieKey = null;
        }
    }
    return memo.cookieKey;
}

function sign(id, key) {
    return crypto.createHmac("sha256", key).update(id).digest("base64url").slice(0, 22);
}

// The id of a stickiness cookie the router signed, else null: a client cannot choose its bucket.
function cookieId(r) {
    var value = r.variables["cookie_" + STICKY_COOKIE];
    var key = value ? cookieKey() : null;
    if (key === null) {
        return null;
    }
    var dot = value.indexOf(".");
    if (dot < 1) {
        return null;
    }
    var id = value.slice(0, dot);
    return sign(id, key) === value.slice(dot + 1) ? id : null;
}

// A tester on the allowlist: the request names a listed token in the configured header.
function allowlisted(r, state) {
    var list = state.allowlist;
    if (!list || !list.header) {
        return false;
    }
    var sent = r.headersIn[list.header];
    return !!sent && list.tokens.indexOf(sent) >= 0;
}

// A header or cookie route (rollout.match): the request sends one named value exactly.
function matched(r, state) {
    var rules = state.match;
    if (!rules) {
        return false;
    }
    for (var i = 0; i < rules.length; i++) {
        var rule = rules[i];
        var sent = rule.header ? r.headersIn[rule.header] : r.variables["cookie_" + rule.cookie];
        if (sent === rule.value) {
            return true;
        }
    }
    return false;
}

// Which rule, if any, sends this request to the active colour instead of the weights.
function routeRule(r, state) {
    if (allowlisted(r, state)) {
        return "allowlist";
    }
    return matched(r, state) ? "match" : "";
}

// 32-bit string hash (djb2, kept in int32 range): a sticky key maps to one bucket 0..99.
function hash(text) {
    var h = 5381;
    for (var i = 0; i < text.length; i++) {
        h = ((h << 5) + h + text.charCodeAt(i)) | 0;
    }
    return h >>> 0;
}

function stickyKey(r, state) {
    if (state.stickiness === "cookie") {
        return cookieId(r) || r.variables.request_id;
    }
    if (state.stickiness === "ip") {
        return r.variables.remote_addr;
    }
    return null;
}

// The active colour owns buckets [0, its share): raising its share keeps every sticky client that saw it.
function liveColor(r, state) {
    var active = state.active;
    var idle = active === "blue" ? "green" : "blue";
    var share = state.weights[active];
    if (share >= 100) {
        return active;
    }
    var rule = routeRule(r, state);
    if (rule && (state.targets[active] || []).length > 0) {
        // $bg_rule (js_var) goes into the access log: requests a rule routed are counted apart.
        r.variables.bg_rule = rule;
        return active;
    }
    if (share <= 0) {
        return idle;
    }
    var key = stickyKey(r, state);
    var bucket = key === null ? Math.floor(Math.random() * 100) : hash(key) % 100;
    return bucket < share ? active : idle;
}

function pick(state, color) {
    var targets = state.targets[color] || [];
    if (targets.length === 0) {
        return "";
    }
    return targets[Math.floor(Math.random() * targets.length)];
}

// "<colour> <host:port>", or "" when there is no route or the state says maintenance:
// nginx answers 503 through unavailable().
function live(r) {
    var state = readState(r);
    if (state === null || state.maintenance) {
        return "";
    }
    var color = liveColor(r, state);
    var target = pick(state, color);
    return target ? color + " " + target : "";
}

function preview(r) {
    var state = readState(r);
    if (state === null || !state.preview) {
        return "";
    }
    var target = pick(state, state.preview);
    return target ? state.preview + " " + target : "";
}

// The cookie that keeps a client on its colour, only while two colours share the live traffic.
function setCookie(r) {
    var state = readState(r);
    if (state === null || state.stickiness !== "cookie" || state.maintenance || cookieId(r) !== null) {
        return "";
    }
    var share = state.weights[state.active];
    var key = cookieKey();
    if (share <= 0 || share >= 100 || key === null) {
        return "";
    }
    var id = r.variables.request_id;
    // Under TLS the cookie never travels in clear text: a bucket read off the wire is a bucket chosen.
    var secure = r.variables.https === "on" ? "; Secure" : "";
    return STICKY_COOKIE + "=" + id + "." + sign(id, key) + "; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax" + secure;
}

function escapeHtml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

// A live request nginx answers 503: the maintenance page (HTML or JSON, by Accept) while the
// state says so, with Retry-After; otherwise there is no route yet.
function unavailable(r) {
    var state = readState(r);
    var page = state ? state.maintenance : null;
    r.headersOut["Cache-Control"] = "no-store";
    if (!page) {
        r.headersOut["Content-Type"] = "application/json";
        r.return(503, JSON.stringify({ error: "no route" }));
        return;
    }
    r.headersOut["Retry-After"] = String(page.retryAfterSeconds);
    var accept = r.headersIn.Accept || "";
    if (accept.indexOf("text/html") >= 0) {
        r.headersOut["Content-Type"] = "text/html; charset=utf-8";
        var text = escapeHtml(page.message);
        r.return(503, "<!doctype html><html><head><meta charset=\"utf-8\"><title>Maintenance</title></head>" +
            "<body><h1>Maintenance</h1><p>" + text + "</p></body></html>\n");
        return;
    }
    r.headersOut["Content-Type"] = "application/json";
    r.return(503, JSON.stringify({ error: "maintenance", message: page.message,
        retryAfterSeconds: page.retryAfterSeconds }));
}

// The certificate generation to load for this handshake (tls/current resolved once, so its
// certificate and key come from the same one); "" before any is installed: the handshake fails.
function tlsDir(r) {
    try {
        return fs.realpathSync(ROOT + TLS_CURRENT);
    } catch (e) {
        return "";
    }
}

// "<colour> <target>" when the generation `current` names is steady: nginx routes every live request there by
// the name alone (bluegreen/router/steady.py), whatever its state file holds.
function steadyRoute() {
    try {
        var found = /\/g[0-9]+@([a-z]+)@([^\/@]+)$/.exec(fs.realpathSync(ROOT + CURRENT));
        return found ? found[1] + " " + found[2] : null;
    } catch (e) {
        return null;
    }
}

function status(r) {
    var state = readState(r);
    var body = {
        configHash: r.variables.bg_config_hash || null,
        planHash: state ? state.planHash : null,
        stateSource: state ? state.source : null,
        state: state ? "routed" : "no route yet",
        steadyRoute: steadyRoute(),
    };
    if (state) {
        var keys = ["deployment", "active", "weights", "versions", "preview", "stickiness", "maintenance",
            "generatedAt"];
        for (var i = 0; i < keys.length; i++) {
            body[keys[i]] = state[keys[i]];
        }
    }
    r.headersOut["Content-Type"] = "application/json";
    r.return(200, JSON.stringify(body));
}

export default { live: live, preview: preview, setCookie: setCookie, unavailable: unavailable, tlsDir: tlsDir,
    status: status };
