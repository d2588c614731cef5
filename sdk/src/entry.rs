//! Entry points: how a typed Rust function becomes a callable function of the app.

use core::fmt::Display;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// What an entry point may return: `Result<T, E>`, where `T` is the output and `E` explains a failure.
pub trait IntoOutcome {
    fn finish(self);
}

impl<T: Serialize, E: Display> IntoOutcome for Result<T, E> {
    fn finish(self) {
        match self {
            Ok(value) => crate::output(&crate::codec::encode(&value)),
            Err(error) => crate::abort(&alloc::format!("{error}")),
        }
    }
}

/// Decodes the call input as `I`, runs `f`, and writes its output or aborts with its error.
pub fn dispatch<I: DeserializeOwned, R: IntoOutcome>(f: fn(I) -> R) {
    let input = crate::input();
    let arg = match crate::codec::decode::<I>(&input) {
        Ok(arg) => arg,
        Err(e) => crate::invalid_input(e),
    };
    f(arg).finish();
}

/// Lists the functions an app exposes: `entrypoints!(increment, get);`.
///
/// Each function is `fn(Input) -> Result<Output, Error>` with `Input: Deserialize`, `Output: Serialize`,
/// `Error: Display` (use `()` as input for a function that takes none). On wasm32 each becomes an export of
/// the same name; on the NVM one entry reads the function name from the input envelope and dispatches.
#[macro_export]
macro_rules! entrypoints {
    ($($name:ident),+ $(,)?) => {
        $(
            #[cfg(target_arch = "wasm32")]
            const _: () = {
                #[unsafe(export_name = stringify!($name))]
                extern "C" fn __nexus_export() {
                    $crate::__private::dispatch($name)
                }
            };
        )+

        #[cfg(target_arch = "riscv32")]
        #[unsafe(no_mangle)]
        fn __nexus_entrypoints() -> &'static [$crate::__private::Entry] {
            &[$((stringify!($name), || $crate::__private::dispatch($name))),+]
        }

        // On other targets (host builds for tooling and tests) the functions stay plain Rust functions.
    };
}
