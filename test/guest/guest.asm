; vmig self-checking test guest -- multiboot v1 kernel, flat binary.
;
;   nasm -f bin -o build/guest.bin guest.asm
;   qemu-system-x86_64 -accel tcg -m 64 -kernel build/guest.bin [-append "busy"]
;
; See README.md for the memory layout, the status block and the options.
; 32-bit protected mode, no interrupts, no stack use after init (see below).

bits 32
cpu 586
org 0x100000

; ---------------------------------------------------------------- constants
MB_HDR_MAGIC    equ 0x1BADB002
MB_HDR_FLAGS    equ (1 << 1) | (1 << 16)     ; want mem info; address fields valid
MB_BOOT_MAGIC   equ 0x2BADB002

PD_ADDR         equ 0x00001000      ; page directory: 1024 x 4 MiB PSE entries
STACK_TOP       equ 0x00008000      ; init-time stack (0x7000..0x7fff)
STATUS          equ 0x00009000      ; status block (public, 64 bytes)
GEN             equ 0x00110000      ; u8 generation per pattern page
GEN_MAX         equ 0x000F0000      ; gen table ends at 2 MiB -> max pages
PAT_START       equ 0x00200000      ; pattern area start (2 MiB)
TOP_MARGIN      equ 0x00100000      ; keep 1 MiB clear below end of RAM
DEFAULT_RAMEND  equ 0x01000000      ; used if the loader gave no mem info

K_ADDR          equ 0x9E3779B1      ; pattern: addr*K_ADDR + gen*K_GEN
K_GEN           equ 0x7FEB352D
K_STEP          equ (K_ADDR * 4) & 0xFFFFFFFF
IDLE_SEED       equ 0xA5A5A5A5      ; idle: per-page xorshift32 seed mix

; status block: public words (xp /16wx 0x9000)
ST_MAGIC0       equ STATUS + 0x00   ; "VMIG"
ST_MAGIC1       equ STATUS + 0x04   ; "GST1"
ST_NONCE        equ STATUS + 0x08
ST_PASSES       equ STATUS + 0x0C
ST_ERRORS       equ STATUS + 0x10
ST_FIRSTBAD     equ STATUS + 0x14
ST_PHASE        equ STATUS + 0x18
ST_PATMIB       equ STATUS + 0x1C
ST_FLAGS        equ STATUS + 0x20
ST_DIRTY        equ STATUS + 0x24   ; pages rewritten per pass
ST_PATSTART     equ STATUS + 0x28
ST_PATEND       equ STATUS + 0x2C
ST_FIRSTGOT     equ STATUS + 0x30
ST_FIRSTEXP     equ STATUS + 0x34
ST_LASTBAD      equ STATUS + 0x38
ST_BADPASSES    equ STATUS + 0x3C   ; passes that saw >= 1 mismatch
; private words (same page, not part of the public layout)
V_NPAGES        equ STATUS + 0x40
V_CURSOR        equ STATUS + 0x44
V_PASSERR       equ STATUS + 0x48
V_DIRTYARG      equ STATUS + 0x4C

F_NOFLUSH       equ 1 << 0
F_BUSY          equ 1 << 1
F_IDLE          equ 1 << 2
F_DIRTYARG      equ 1 << 3
F_PAGING        equ 1 << 8
F_MEMINFO       equ 1 << 9
F_CMDLINE       equ 1 << 10

COM1            equ 0x3F8

; ---------------------------------------------------------------- header
mb_header:
    dd MB_HDR_MAGIC
    dd MB_HDR_FLAGS
    dd -(MB_HDR_MAGIC + MB_HDR_FLAGS)
    dd mb_header            ; header_addr
    dd 0x100000             ; load_addr
    dd image_end            ; load_end_addr
    dd image_end            ; bss_end_addr
    dd start                ; entry_addr

; ---------------------------------------------------------------- GDT
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF   ; 0x08: code, flat 4 GiB
    dq 0x00CF92000000FFFF   ; 0x10: data, flat 4 GiB
gdt_desc:
    dw gdt_desc - gdt - 1
    dd gdt

kw_noflush: db "noflush"
kw_busy:    db "busy"
kw_idle:    db "idle"
kw_dirty:   db "dirty="
msg_boot:   db "vmig guest: boot", 13, 10, 0
msg_run:    db "vmig guest: running", 13, 10, 0
msg_small:  db "vmig guest: not enough RAM (need >= 5 MiB), halting", 13, 10, 0

; ---------------------------------------------------------------- entry
start:
    cli
    cld
    mov esp, STACK_TOP
    lgdt [gdt_desc]
    jmp 0x08:.cs_ok
.cs_ok:
    mov ecx, 0x10
    mov ds, ecx
    mov es, ecx
    mov fs, ecx
    mov gs, ecx
    mov ss, ecx

    ; ebp = flags, [V_DIRTYARG] = dirty=N value, edi = end of RAM
    xor ebp, ebp
    mov edi, DEFAULT_RAMEND
    cmp eax, MB_BOOT_MAGIC
    jne .no_mbi
    test byte [ebx], 1              ; mbi.flags bit 0: mem_lower/mem_upper
    jz .no_mem
    mov edi, [ebx + 8]              ; mem_upper in KiB above 1 MiB
    cmp edi, (0xFFF00000 - 0x100000) >> 10
    jbe .mem_ok
    mov edi, (0xFFF00000 - 0x100000) >> 10
.mem_ok:
    shl edi, 10
    add edi, 0x100000
    or ebp, F_MEMINFO
.no_mem:
    test byte [ebx], 4              ; mbi.flags bit 2: cmdline
    jz .no_mbi
    mov esi, [ebx + 16]
    or ebp, F_CMDLINE
    call parse_cmdline
.no_mbi:
    mov esi, msg_boot
    call serial_puts

    ; ---- layout: pattern area [PAT_START, patend), npages
    and edi, 0xFFF00000
    sub edi, TOP_MARGIN
    cmp edi, PAT_START + 0x200000
    jae .big_enough
    mov esi, msg_small
    call serial_puts
.halt:
    hlt
    jmp .halt
.big_enough:
    mov ecx, edi
    sub ecx, PAT_START
    shr ecx, 12                     ; npages
    cmp ecx, GEN_MAX
    jbe .np_ok
    mov ecx, GEN_MAX
.np_ok:
    mov [V_NPAGES], ecx
    mov edi, ecx
    shl edi, 12
    add edi, PAT_START              ; patend

    ; ---- pages dirtied per pass
    xor edx, edx
    test ebp, F_IDLE
    jnz .dirty_ok
    mov edx, ecx
    test ebp, F_BUSY
    jnz .dirty_ok
    test ebp, F_DIRTYARG
    jz .dirty_default
    mov edx, [V_DIRTYARG]
    cmp edx, ecx
    jbe .dirty_ok
    mov edx, ecx
    jmp .dirty_ok
.dirty_default:
    shr edx, 4                      ; 1/16 of the pages per pass
    jnz .dirty_ok
    inc edx
.dirty_ok:
    ; ---- status block
    mov dword [ST_MAGIC0], 'VMIG'
    mov dword [ST_MAGIC1], 'GST1'
    push edx
    rdtsc
    pop edx
    test eax, eax
    jnz .nonce_ok
    inc eax
.nonce_ok:
    mov [ST_NONCE], eax
    xor eax, eax
    mov [ST_PASSES], eax
    mov [ST_ERRORS], eax
    mov [ST_FIRSTBAD], eax
    mov [ST_PHASE], eax             ; 0 = filling
    mov [ST_FIRSTGOT], eax
    mov [ST_FIRSTEXP], eax
    mov [ST_LASTBAD], eax
    mov [ST_BADPASSES], eax
    mov [V_CURSOR], eax
    mov [V_PASSERR], eax
    mov eax, ecx
    shr eax, 8
    mov [ST_PATMIB], eax
    or ebp, F_PAGING
    mov [ST_FLAGS], ebp
    mov [ST_DIRTY], edx
    mov dword [ST_PATSTART], PAT_START
    mov [ST_PATEND], edi

    ; ---- paging: identity map of 4 GiB with 4 MiB pages
    mov edi, PD_ADDR
    mov eax, 0x83                   ; P | RW | PS
    mov ecx, 1024
.pde:
    mov [edi], eax
    add eax, 0x400000
    add edi, 4
    dec ecx
    jnz .pde
    mov eax, cr4
    or eax, 1 << 4                  ; CR4.PSE
    mov cr4, eax
    mov eax, PD_ADDR
    mov cr3, eax
    mov eax, cr0
    or eax, 1 << 31                 ; CR0.PG
    mov cr0, eax
    jmp .paged
.paged:
    ; From here on no stack is used: under the QEMU 7.2 TCG dirty-tracking
    ; bug a lost stack write could corrupt a return address.

    ; ---- fill
    test dword [ST_FLAGS], F_IDLE
    jnz fill_idle

    ; gen[] = 0
    mov edi, GEN
    mov ecx, [V_NPAGES]
    xor eax, eax
    rep stosb
    ; page i = pattern(addr, 0)
    mov edi, PAT_START
    mov edx, [V_NPAGES]
    shl edx, 10                     ; dwords
    mov eax, edi
    imul eax, eax, K_ADDR
.fill:
    mov [edi], eax
    add eax, K_STEP
    add edi, 4
    dec edx
    jnz .fill
    jmp fill_done

fill_idle:
    mov edi, PAT_START
    mov edx, [V_NPAGES]
.page:
    mov eax, edi
    imul eax, eax, K_ADDR
    xor eax, IDLE_SEED
    or eax, 1
    mov ecx, 1024
.dw:
    mov ebx, eax
    shl ebx, 13
    xor eax, ebx
    mov ebx, eax
    shr ebx, 17
    xor eax, ebx
    mov ebx, eax
    shl ebx, 5
    xor eax, ebx
    mov [edi], eax
    add edi, 4
    dec ecx
    jnz .dw
    dec edx
    jnz .page

fill_done:
    test dword [ST_FLAGS], F_NOFLUSH
    jnz .nf
    mov eax, cr3
    mov cr3, eax
    ; re-touch every page of the gen table and pattern area once (see the
    ; touch step of the main loop) so no fill store can stay unlogged
    mov edi, GEN
.touch:
    mov eax, [edi]
    mov [edi], eax
    add edi, 4096
    cmp edi, [ST_PATEND]
    jb .touch
.nf:
    mov dword [ST_PHASE], 1         ; running
    mov esi, msg_run
    mov esp, STACK_TOP
    call serial_puts                ; last stack use
    xor ebp, ebp                    ; shadow pass counter

; ================================================================ main loop
; State lives in the status page, except ebp: a register copy of the pass
; counter. CPU registers always migrate exactly, so at the end of each pass
; [ST_PASSES] must equal ebp; if it does not, a store to the status page was
; lost (that page is hot in the TCG TLB, so it is the first victim of the
; QEMU 7.2 bug under noflush) and it is counted as an error at ST_PASSES.

; record a mismatch: edi = address, eax = expected; clobbers ebx
%macro RECORD_BAD 0
    mov ebx, [edi]
    cmp dword [ST_ERRORS], 0
    jne %%notfirst
    mov [ST_FIRSTBAD], edi
    mov [ST_FIRSTGOT], ebx
    mov [ST_FIRSTEXP], eax
%%notfirst:
    mov [ST_LASTBAD], edi
    cmp dword [ST_ERRORS], 0xFFFFFFFF
    je %%sat
    inc dword [ST_ERRORS]
%%sat:
    mov dword [V_PASSERR], 1
%endmacro

main_loop:
    ; ---- (a) verify every pattern dword
    test dword [ST_FLAGS], F_IDLE
    jnz verify_idle

    xor esi, esi                    ; page index
    mov edi, PAT_START
.vpage:
    movzx eax, byte [GEN + esi]
    imul eax, eax, K_GEN
    mov ebx, edi
    imul ebx, ebx, K_ADDR
    add eax, ebx
    mov ecx, 1024
.vdw:
    cmp [edi], eax
    jne .vbad
.vnext:
    add eax, K_STEP
    add edi, 4
    dec ecx
    jnz .vdw
    inc esi
    cmp esi, [V_NPAGES]
    jb .vpage
    jmp dirty_phase
.vbad:
    RECORD_BAD
    jmp .vnext

verify_idle:
    mov edi, PAT_START
    mov edx, [V_NPAGES]
.page:
    mov eax, edi
    imul eax, eax, K_ADDR
    xor eax, IDLE_SEED
    or eax, 1
    mov ecx, 1024
.dw:
    mov ebx, eax
    shl ebx, 13
    xor eax, ebx
    mov ebx, eax
    shr ebx, 17
    xor eax, ebx
    mov ebx, eax
    shl ebx, 5
    xor eax, ebx
    cmp [edi], eax
    jne .bad
.next:
    add edi, 4
    dec ecx
    jnz .dw
    dec edx
    jnz .page
    jmp dirty_phase
.bad:
    RECORD_BAD
    jmp .next

    ; ---- (b) dirty [ST_DIRTY] pages starting at the cursor (rotating)
dirty_phase:
    mov edx, [ST_DIRTY]
    test edx, edx
    jz flush_phase
    ; Flush first, so that the stores below fill fresh TLB entries: an entry
    ; filled by the verify reads while its page was still dirty would stay
    ; writable across a later dirty-bitmap sync and hide these stores (QEMU
    ; 7.2 TCG bug); that matters if the source stops before step (c).
    test dword [ST_FLAGS], F_NOFLUSH
    jnz .bumps
    mov eax, cr3
    mov cr3, eax
.bumps:
    ; bump all generations of the subset in one short burst ...
    mov esi, [V_CURSOR]
.bump:
    inc byte [GEN + esi]
    inc esi
    cmp esi, [V_NPAGES]
    jb .b1
    xor esi, esi
.b1:
    dec edx
    jnz .bump
    ; ... then rewrite the pages
    mov edx, [ST_DIRTY]
    mov esi, [V_CURSOR]
.rpage:
    mov edi, esi
    shl edi, 12
    add edi, PAT_START
    movzx eax, byte [GEN + esi]
    imul eax, eax, K_GEN
    mov ebx, edi
    imul ebx, ebx, K_ADDR
    add eax, ebx
    mov ecx, 1024
.rdw:
    mov [edi], eax
    add eax, K_STEP
    add edi, 4
    dec ecx
    jnz .rdw
    inc esi
    cmp esi, [V_NPAGES]
    jb .r1
    xor esi, esi
.r1:
    dec edx
    jnz .rpage

    ; ---- (c) TLB flush (CR3 reload), (d) pass done, then re-touch
flush_phase:
    mov esi, [V_CURSOR]             ; esi = old cursor (start of this subset)
    mov edx, esi
    add edx, [ST_DIRTY]
.wrap:
    cmp edx, [V_NPAGES]
    jb .cur_ok
    sub edx, [V_NPAGES]
    jmp .wrap
.cur_ok:                            ; edx = new cursor
    mov ecx, [V_PASSERR]
    test dword [ST_FLAGS], F_NOFLUSH
    jnz .count
    mov eax, cr3
    mov cr3, eax
    ; The status-page stores follow the flush immediately, so they take
    ; QEMU's slow path and are logged (and re-log the page if errors were
    ; recorded in it during this pass).
.count:
    cmp [ST_PASSES], ebp
    je .passes_ok
    mov edi, ST_PASSES              ; lost status store: count it
    mov eax, ebp
    RECORD_BAD
    mov ecx, 1
.passes_ok:
    inc ebp
    mov [ST_PASSES], ebp
    mov [V_CURSOR], edx
    add [ST_BADPASSES], ecx
    mov dword [V_PASSERR], 0

    test dword [ST_FLAGS], F_NOFLUSH
    jnz main_loop
    ; Each page written this pass gets one more (same-value) store now that
    ; the TLB is empty, so QEMU's slow path marks it dirty again even if a
    ; dirty-bitmap sync raced with the writes above.
    mov edx, [ST_DIRTY]
    test edx, edx
    jz main_loop
.touch:
    mov al, [GEN + esi]
    mov [GEN + esi], al
    mov edi, esi
    shl edi, 12
    add edi, PAT_START
    mov eax, [edi]
    mov [edi], eax
    inc esi
    cmp esi, [V_NPAGES]
    jb .t1
    xor esi, esi
.t1:
    dec edx
    jnz .touch
    jmp main_loop

; ================================================================ init helpers
; (stack allowed here: only used before the fill)

; esi = NUL-terminated string
serial_puts:
    push eax
    push ecx
    push edx
.ch:
    mov al, [esi]
    test al, al
    jz .done
    mov ah, al
    mov ecx, 10000
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jnz .ready
    dec ecx
    jnz .wait
.ready:
    mov al, ah
    mov dx, COM1
    out dx, al
    inc esi
    jmp .ch
.done:
    pop edx
    pop ecx
    pop eax
    ret

; esi = NUL-terminated command line; sets bits in ebp, [V_DIRTYARG]
parse_cmdline:
    pushad
.skip:
    mov al, [esi]
    test al, al
    jz .done
    cmp al, ' '
    je .sp
    cmp al, 9
    jne .word
.sp:
    inc esi
    jmp .skip
.word:
    mov edx, esi                    ; word start
.scan:
    mov al, [esi]
    test al, al
    jz .wend
    cmp al, ' '
    je .wend
    cmp al, 9
    je .wend
    inc esi
    jmp .scan
.wend:
    mov ecx, esi
    sub ecx, edx                    ; word length
    mov edi, kw_noflush
    mov ebx, 7
    call word_eq
    jne .n1
    or dword [esp + 8], F_NOFLUSH   ; saved ebp in the pushad frame
.n1:
    mov edi, kw_busy
    mov ebx, 4
    call word_eq
    jne .n2
    or dword [esp + 8], F_BUSY
.n2:
    mov edi, kw_idle
    mov ebx, 4
    call word_eq
    jne .n3
    or dword [esp + 8], F_IDLE
.n3:
    cmp ecx, 6
    jbe .skip
    push esi
    push ecx
    mov esi, edx
    mov edi, kw_dirty
    mov ecx, 6
    repe cmpsb
    pop ecx
    jne .not_dirty
    ; decimal digits from esi (edx+6), ecx-6 of them
    sub ecx, 6
    xor eax, eax
.digit:
    movzx ebx, byte [esi]
    sub ebx, '0'
    cmp ebx, 9
    ja .not_dirty
    cmp eax, 100000000
    jae .big
    imul eax, eax, 10
    add eax, ebx
.big:
    inc esi
    dec ecx
    jnz .digit
    mov [V_DIRTYARG], eax
    or dword [esp + 4 + 8], F_DIRTYARG
.not_dirty:
    pop esi
    jmp .skip
.done:
    popad
    ret

; ZF=1 if word (edx, len ecx) equals keyword (edi, len ebx); keeps esi, ecx
word_eq:
    cmp ecx, ebx
    jne .ret
    push esi
    push ecx
    mov esi, edx
    repe cmpsb
    pop ecx
    pop esi
.ret:
    ret

image_end:
; The image (plus QEMU's multiboot buffer placed after it) must stay well
; below the generation table at GEN: fail the build if it exceeds 32 KiB.
times -((image_end - mb_header) > 0x8000) db 0
