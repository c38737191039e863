//! {{name}}: a Docket action (command ABI) in Zig.
//! Greets the Workfront user who ran it on a document.

const std = @import("std");
const docket = @import("docket"); // docket/docket.zig (see build.sh)

/// A panic writes its message to stderr (the line Docket logs), then traps.
pub const panic = std.debug.simple_panic;

pub fn main(init: std.process.Init) void {
    docket.serve(init, run);
}

fn run(req: docket.Request, arena: std.mem.Allocator) !docket.Outcome {
    if (req.username.len == 0) return .{ .forbidden = "sign in to Workfront first" };
    const greeting = req.param("greeting") orelse req.setting("greeting") orelse "Hello";
    return docket.success(arena, "{s}, {s}! You ran {{name}} on document {s} (version {s}).", .{
        greeting, req.username, req.documentId, req.documentVersionId,
    });
}
