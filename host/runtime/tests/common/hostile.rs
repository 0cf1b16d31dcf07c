//! Hostile components: a real plugin with extra core modules appended, instantiated many times
//! when the component is. Each extra instance can hold memories and tables of its own, and its
//! start function writes to every 4 KiB page of its memories, so whatever is granted becomes
//! resident.

use wasm_encoder::{
    CodeSection, Function, FunctionSection, InstanceSection, MemArg, MemorySection, MemoryType,
    Module, ModuleArg, ModuleSection, RefType, StartSection, TableSection, TableType, TypeSection,
};

/// What each appended core instance holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extra {
    /// Linear memories per instance.
    pub memories: u32,
    /// Initial size of each, in 64 KiB pages.
    pub pages: u64,
    /// Tables per instance (one element each).
    pub tables: u32,
    /// How many instances of the module the component creates.
    pub instances: u32,
}

/// Wasm page size, in which memory sizes are counted.
const PAGE: i64 = 65536;
/// Host page size: the step at which writes make a memory resident.
const HOST_PAGE: i32 = 4096;

/// `plugin` (a component's bytes) with `extra.instances` instances of one more core module.
pub fn with_extra_instances(plugin: &[u8], extra: Extra) -> Vec<u8> {
    let module_index = core_module_count(plugin);

    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    module.section(&types);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    module.section(&funcs);
    if extra.tables > 0 {
        let mut tables = TableSection::new();
        for _ in 0..extra.tables {
            tables.table(TableType {
                element_type: RefType::FUNCREF,
                table64: false,
                minimum: 1,
                maximum: None,
                shared: false,
            });
        }
        module.section(&tables);
    }
    if extra.memories > 0 {
        let mut memories = MemorySection::new();
        for _ in 0..extra.memories {
            memories.memory(MemoryType {
                minimum: extra.pages,
                maximum: None,
                memory64: false,
                shared: false,
                page_size_log2: None,
            });
        }
        module.section(&memories);
    }
    module.section(&StartSection { function_index: 0 });
    // Touch one byte of every host page of every memory:
    // `for a in (0..size).step_by(HOST_PAGE) { m[a] = 1 }`.
    let mut start = Function::new([(1, wasm_encoder::ValType::I32)]);
    let size = (extra.pages as i64 * PAGE) as i32;
    for m in 0..extra.memories {
        let mut ins = start.instructions();
        ins.i32_const(0).local_set(0);
        if size > 0 {
            ins.loop_(wasm_encoder::BlockType::Empty)
                .local_get(0)
                .i32_const(1)
                .i32_store8(MemArg {
                    offset: 0,
                    align: 0,
                    memory_index: m,
                })
                .local_get(0)
                .i32_const(HOST_PAGE)
                .i32_add()
                .local_tee(0)
                .i32_const(size)
                .i32_lt_u()
                .br_if(0)
                .end();
        }
    }
    start.instructions().end();
    let mut code = CodeSection::new();
    code.function(&start);
    module.section(&code);

    let mut appended = wasm_encoder::Component::new();
    appended.section(&ModuleSection(&module));
    let mut instances = InstanceSection::new();
    for _ in 0..extra.instances {
        instances.instantiate(module_index, Vec::<(&str, ModuleArg)>::new());
    }
    appended.section(&instances);
    let appended = appended.finish();

    // A component is its 8-byte header and a sequence of sections, which may repeat: the new
    // sections go at the end, so no existing index moves.
    let mut out = plugin.to_vec();
    out.extend_from_slice(&appended[8..]);
    out
}

/// Core modules defined at the top level of a component (the next one gets this index).
fn core_module_count(component: &[u8]) -> u32 {
    let mut depth = 0usize;
    let mut count = 0;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload.expect("the plugin is a valid component") {
            wasmparser::Payload::ModuleSection { .. } => {
                if depth == 0 {
                    count += 1;
                }
                depth += 1;
            }
            wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    count
}
