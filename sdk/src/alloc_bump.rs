//! The guest allocator and panic handler (guest targets only).
//!
//! A bump allocator: every call runs in a fresh instance (wasm) or a fresh machine (NVM), so memory is
//! reclaimed wholesale when the call ends and `dealloc` has nothing useful to do. It is the cheapest
//! allocator in fuel and in proven cycles, and trivially deterministic. The one refinement: growing or freeing
//! the most recent allocation happens in place, which makes the common `Vec::push` pattern cheap.
//! An app that allocates without bound hits the host's memory limit, a clear, deterministic trap.

#[cfg(any(target_arch = "wasm32", target_arch = "riscv32"))]
mod guest {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;

    struct Bump {
        /// (next free address, end of the usable region); (0, 0) until the first allocation.
        cursor: UnsafeCell<(usize, usize)>,
    }

    // SAFETY: guests are single-threaded (wasm threads are off in the host; the NVM has one hart).
    unsafe impl Sync for Bump {}

    #[global_allocator]
    static ALLOCATOR: Bump = Bump { cursor: UnsafeCell::new((0, 0)) };

    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: single-threaded, and no reference to the cursor outlives this function.
            let cursor = unsafe { &mut *self.cursor.get() };
            let start = match align_up(cursor.0, layout.align()) {
                Some(start) if cursor.0 != 0 => start,
                _ => match region::first(layout) {
                    Some((start, end)) => {
                        *cursor = (start, end);
                        match align_up(start, layout.align()) {
                            Some(s) => s,
                            None => return core::ptr::null_mut(),
                        }
                    }
                    None => return core::ptr::null_mut(),
                },
            };
            let Some(end) = start.checked_add(layout.size()) else {
                return core::ptr::null_mut();
            };
            if end > cursor.1 {
                match region::extend(cursor.1, end) {
                    Some(new_end) => cursor.1 = new_end,
                    None => return core::ptr::null_mut(),
                }
            }
            cursor.0 = end;
            start as *mut u8
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: single-threaded, and no reference to the cursor outlives this function.
            let cursor = unsafe { &mut *self.cursor.get() };
            if ptr as usize + layout.size() == cursor.0 {
                cursor.0 = ptr as usize;
            }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            {
                // SAFETY: single-threaded, and this reference ends before `alloc` below takes its own.
                let cursor = unsafe { &mut *self.cursor.get() };
                if ptr as usize + layout.size() == cursor.0 {
                    let Some(end) = (ptr as usize).checked_add(new_size) else {
                        return core::ptr::null_mut();
                    };
                    if end <= cursor.1 || region::extend(cursor.1, end).map(|e| cursor.1 = e).is_some() {
                        cursor.0 = end;
                        return ptr;
                    }
                    return core::ptr::null_mut();
                }
            }
            // SAFETY: `new_size` with the old alignment is a valid layout (GlobalAlloc::realloc contract).
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: delegating to our own alloc; the copy stays within both allocations.
            unsafe {
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                }
                new
            }
        }
    }

    fn align_up(addr: usize, align: usize) -> Option<usize> {
        Some(addr.checked_add(align - 1)? & !(align - 1))
    }

    /// wasm32: the heap starts at the end of the initial linear memory and grows with `memory.grow`.
    #[cfg(target_arch = "wasm32")]
    mod region {
        use core::alloc::Layout;
        use core::arch::wasm32::{memory_grow, memory_size};

        const PAGE_BYTES: usize = 65_536;

        pub fn first(_: Layout) -> Option<(usize, usize)> {
            let end = memory_size(0) * PAGE_BYTES;
            Some((end, end))
        }

        pub fn extend(current_end: usize, needed_end: usize) -> Option<usize> {
            let pages = (needed_end - current_end).div_ceil(PAGE_BYTES);
            if memory_grow(0, pages) == usize::MAX {
                return None;
            }
            Some(current_end + pages * PAGE_BYTES)
        }
    }

    /// The NVM: the heap is a fixed region in the program's own .bss, so the same ELF also runs under
    /// `qemu-riscv32`, which maps only the ELF's segments and a stack.
    #[cfg(target_arch = "riscv32")]
    mod region {
        use core::alloc::Layout;

        pub const HEAP_BYTES: usize = 16 << 20;

        #[repr(align(16))]
        #[allow(dead_code)] // only its address is used
        struct Heap([u8; HEAP_BYTES]);
        static mut HEAP: Heap = Heap([0; HEAP_BYTES]);

        pub fn first(_: Layout) -> Option<(usize, usize)> {
            let start = core::ptr::addr_of_mut!(HEAP) as usize;
            Some((start, start + HEAP_BYTES))
        }

        pub fn extend(_: usize, _: usize) -> Option<usize> {
            None
        }
    }

    #[cfg(not(test))]
    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        crate::abort(&alloc::format!("panicked: {}", info.message()))
    }
}
