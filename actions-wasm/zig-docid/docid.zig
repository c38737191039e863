//! zig-docid: validates the document ids (and an optional checksum) of a
//! Workfront call before anything acts on them (command ABI, Zig, using
//! guest-sdk/zig/docket.zig).
//!
//! Config:   blocked-users (comma-separated usernames), checksum-length (hex
//!           characters a checksum has; default 64, a SHA-256).
//!           Optional calls out, on success: count-key (increments that key of
//!           the key-value store and appends " (#N)" to the message; grant
//!           [capabilities] key-value) and notify-url (POSTs {"text": message}
//!           there as application/json before answering; grant its
//!           scheme://host[:port] in allowed-outbound-hosts).
//! Params:   checksum (optional): must be hexadecimal of checksum-length.
//! Failures: an anonymous or blocked user is forbidden; a documentId or
//! documentVersionId that is not 32 lowercase hexadecimal characters is not
//! found; a malformed checksum (or checksum-length) fails, and so does a call
//! out that fails ("could not count: …", "could not notify: …"). `crash=1`
//! panics on purpose, to show how a crash is reported.

const std = @import("std");
const docket = @import("docket");

/// A panic writes its message to stderr (the line Docket logs), then traps.
pub const panic = std.debug.simple_panic;

pub fn main(init: std.process.Init) void {
    docket.serve(init, run);
}

/// A Workfront id: 32 lowercase hexadecimal characters.
fn isWorkfrontId(id: []const u8) bool {
    if (id.len != 32) return false;
    for (id) |c| switch (c) {
        '0'...'9', 'a'...'f' => {},
        else => return false,
    };
    return true;
}

/// Whether `name` is one of the comma-separated entries of `list`.
fn listed(list: []const u8, name: []const u8) bool {
    var entries = std.mem.splitScalar(u8, list, ',');
    while (entries.next()) |entry| {
        if (std.mem.eql(u8, std.mem.trim(u8, entry, " \t"), name)) return true;
    }
    return false;
}

/// Succeeds with `message`, after the optional calls out of the config.
fn finish(req: docket.Request, arena: std.mem.Allocator, message: []const u8) !docket.Outcome {
    var text = message;
    if (req.setting("count-key")) |key| {
        const n = switch (docket.kvIncrement(arena, key, 1)) {
            .ok => |n| n,
            .err => |e| return docket.failed(arena, "could not count: {s}", .{e}),
        };
        text = try std.fmt.allocPrint(arena, "{s} (#{d})", .{ text, n });
    }
    if (req.setting("notify-url")) |url| {
        const body = try std.fmt.allocPrint(arena, "{{\"text\":{f}}}", .{docket.jsonString(text)});
        switch (docket.http(arena, "POST", url, "application/json", body)) {
            .ok => |response| if (response.status / 100 != 2)
                return docket.failed(arena, "could not notify: {s} answered HTTP {d}", .{ url, response.status }),
            .err => |e| return docket.failed(arena, "could not notify: {s}", .{e}),
        }
    }
    return .{ .success = text };
}

fn run(req: docket.Request, arena: std.mem.Allocator) !docket.Outcome {
    if (std.mem.eql(u8, req.param("crash") orelse "", "1")) @panic("crash=1: crashing on purpose");

    const user = req.username;
    if (user.len == 0) return .{ .forbidden = "an anonymous user may not validate documents; sign in to Workfront" };
    if (listed(req.setting("blocked-users") orelse "", user))
        return docket.forbidden(arena, "{s} is blocked from validating documents", .{user});

    if (!isWorkfrontId(req.documentId))
        return docket.notFound(arena, "document \"{s}\" not found: a Workfront id is 32 lowercase hexadecimal characters", .{req.documentId});
    if (!isWorkfrontId(req.documentVersionId))
        return docket.notFound(arena, "document version \"{s}\" not found: a Workfront id is 32 lowercase hexadecimal characters", .{req.documentVersionId});

    const checksum = req.param("checksum") orelse
        return finish(req, arena, try std.fmt.allocPrint(arena, "document {s} version {s} is valid (checked for {s})", .{ req.documentId, req.documentVersionId, user }));

    const length_text = req.setting("checksum-length") orelse "64";
    const length = std.fmt.parseInt(u16, length_text, 10) catch 0;
    if (length == 0)
        return docket.failed(arena, "config checksum-length \"{s}\" is not a positive number", .{length_text});

    const chars = std.unicode.utf8CountCodepoints(checksum) catch checksum.len;
    if (chars != length)
        return docket.failed(arena, "checksum \"{s}\" has {d} characters; expected {d} hexadecimal characters", .{ checksum, chars, length });
    var position: usize = 1;
    var it = std.unicode.Utf8View.initUnchecked(checksum).iterator();
    while (it.nextCodepointSlice()) |c| : (position += 1) {
        if (c.len != 1 or !std.ascii.isHex(c[0]))
            return docket.failed(arena, "checksum \"{s}\" is not hexadecimal: '{s}' at position {d}", .{ checksum, c, position });
    }
    return finish(req, arena, try std.fmt.allocPrint(arena, "document {s} version {s} is valid with checksum {s} (checked for {s})", .{ req.documentId, req.documentVersionId, checksum, user }));
}
