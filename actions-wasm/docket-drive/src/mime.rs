//! MIME types from file extensions.

/// The type for names whose extension is not known.
pub const DEFAULT: &str = "application/octet-stream";

/// The MIME type of a file named `name`, from its extension (case-insensitive).
pub fn from_name(name: &str) -> &'static str {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return DEFAULT;
    };
    if stem.is_empty() {
        // ".profile": a hidden name, not an extension.
        return DEFAULT;
    }
    match ext.to_ascii_lowercase().as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "tif" | "tiff" => "image/tiff",
        "bmp" => "image/bmp",
        "pdf" => "application/pdf",
        "txt" | "text" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "html" | "htm" => "text/html",
        "css" => "text/css",
        "xml" => "application/xml",
        "json" => "application/json",
        "rtf" => "application/rtf",
        "doc" => "application/msword",
        "xls" => "application/vnd.ms-excel",
        "ppt" => "application/vnd.ms-powerpoint",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "odp" => "application/vnd.oasis.opendocument.presentation",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "7z" => "application/x-7z-compressed",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "mov" => "video/quicktime",
        "webm" => "video/webm",
        "psd" => "image/vnd.adobe.photoshop",
        "ai" => "application/postscript",
        "indd" => "application/x-indesign",
        _ => DEFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_extensions() {
        assert_eq!(from_name("a.png"), "image/png");
        assert_eq!(from_name("photo.JPG"), "image/jpeg");
        assert_eq!(from_name("photo.jpeg"), "image/jpeg");
        assert_eq!(from_name("anim.gif"), "image/gif");
        assert_eq!(from_name("spec.v2.pdf"), "application/pdf");
        assert_eq!(from_name("notes.txt"), "text/plain");
        assert_eq!(from_name("data.csv"), "text/csv");
        assert_eq!(from_name("data.json"), "application/json");
        assert_eq!(from_name("index.html"), "text/html");
        assert_eq!(from_name("bundle.zip"), "application/zip");
        assert!(from_name("plan.docx").ends_with("wordprocessingml.document"));
        assert!(from_name("plan.xlsx").ends_with("spreadsheetml.sheet"));
        assert!(from_name("plan.pptx").ends_with("presentationml.presentation"));
    }

    #[test]
    fn unknown_or_missing_extensions() {
        assert_eq!(from_name("README"), DEFAULT);
        assert_eq!(from_name(".png"), DEFAULT);
        assert_eq!(from_name("archive.xyz"), DEFAULT);
        assert_eq!(from_name("trailing."), DEFAULT);
    }
}
