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

var ROOT = "/etc/nginx/bluegreen/";
var STICKY_COOKIE = "bg_bucket";

// One read per request: the route and the cookie of a request come from the same state,
// and the router's CPU is not spent parsing it twice.
var memo = { key: null, state: null };

function readState(r) {
    var key = r.variables.request_id;
    if (key && memo.key === key) {
        return memo.state;
    }
    var state = null;
    var names = ["current", "previous"];
    for (var i = 0; i < names.length && state === null; i++) {
        try {
            var found = JSON.parse(fs.readFileSync(ROOT + names[i] + "/state.json", "utf8"));
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
    return state;
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
        return r.variables["cookie_" + STICKY_COOKIE] || r.variables.request_id;
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

// "<colour> <host:port>", or "" when there is no route: nginx answers 503.
function live(r) {
    var state = readState(r);
    if (state === null) {
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
    if (state === null || state.stickiness !== "cookie" || r.variables["cookie_" + STICKY_COOKIE]) {
        return "";
    }
    var share = state.weights[state.active];
    if (share <= 0 || share >= 100) {
        return "";
    }
    return STICKY_COOKIE + "=" + r.variables.request_id + "; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax";
}

function status(r) {
    var state = readState(r);
    var body = {
        configHash: r.variables.bg_config_hash || null,
        planHash: state ? state.planHash : null,
        stateSource: state ? state.source : null,
        state: state ? "routed" : "no route yet",
    };
    if (state) {
        var keys = ["deployment", "active", "weights", "versions", "preview", "stickiness", "generatedAt"];
        for (var i = 0; i < keys.length; i++) {
            body[keys[i]] = state[keys[i]];
        }
    }
    r.headersOut["Content-Type"] = "application/json";
    r.return(200, JSON.stringify(body));
}

export default { live: live, preview: preview, setCookie: setCookie, status: status };
