//! WebAssembly modules written as bytes, for tests whose modules are too large
//! for WAT text to be quick (compile bombs).

pub fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

pub fn section(id: u8, contents: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb128(contents.len(), out);
    out.extend_from_slice(contents);
}

/// A WASI command importing `imports` (module, name) functions of type
/// `[] -> []` and defining one function per body, the first exported as
/// `_start`. Written as bytes: WAT text of a bomb this size is slow to parse.
pub fn command(imports: &[(&str, &str)], bodies: &[Vec<u8>]) -> Vec<u8> {
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[0x01, 0x60, 0x00, 0x00], &mut module); // type 0: [] -> []
    let mut import_section = Vec::new();
    leb128(imports.len(), &mut import_section);
    for (module_name, name) in imports {
        for text in [module_name, name] {
            leb128(text.len(), &mut import_section);
            import_section.extend_from_slice(text.as_bytes());
        }
        import_section.extend([0x00, 0x00]); // a function of type 0
    }
    section(2, &import_section, &mut module);
    let mut functions = Vec::new();
    leb128(bodies.len(), &mut functions);
    functions.extend(std::iter::repeat_n(0x00, bodies.len()));
    section(3, &functions, &mut module);
    let mut export = vec![0x01, 0x06];
    export.extend_from_slice(b"_start");
    export.push(0x00);
    leb128(imports.len(), &mut export); // the first defined function
    section(7, &export, &mut module);
    let mut code = Vec::new();
    leb128(bodies.len(), &mut code);
    for body in bodies {
        leb128(body.len(), &mut code);
        code.extend_from_slice(body);
    }
    section(10, &code, &mut module);
    module
}

/// A function body of `depth` nested empty blocks (3 bytes a level).
pub fn nested_blocks(depth: usize) -> Vec<u8> {
    let mut body = vec![0x00]; // no locals
    body.extend(std::iter::repeat_n([0x02, 0x40], depth).flatten());
    body.extend(std::iter::repeat_n(0x0b, depth + 1));
    body
}
