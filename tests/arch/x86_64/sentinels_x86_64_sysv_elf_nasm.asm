; sentinels_x86_64_sysv_elf_nasm.asm — the conformance suite's register helper for
; x86_64 (contract: tests/arch/sentinels.h).
;
; slp_test_with_sentinels' own frame, above the caller's saved registers:
;   +16  padding (keeps rsp % 16 == 0 at the call of fn)
;    +8  out
;    +4  caller's x87 control word
;    +0  caller's MXCSR

default rel

%define REGS_GPR 0                  ; rbx rbp r12 r13 r14 r15, 8 bytes each
%define REGS_CTL (18 * 8 + 144)     ; ctl[0] = MXCSR, ctl[1] = x87 control word
%define OWN_CALLER_CTL 0
%define OWN_OUT 8
%define OWN_SIZE 24

global slp_test_with_sentinels:function (slp_test_with_sentinels.end - slp_test_with_sentinels)
global slp_test_entry_probe:function (slp_test_entry_probe.end - slp_test_entry_probe)
extern slp_test_entry_sp        ; the probe's two words live in test_entry.cpp
extern slp_test_entry_target

section .text

; void slp_test_with_sentinels(const slp_test_regs *in /* rdi */, slp_test_regs *out /* rsi */,
;                              void (*fn)(void *) /* rdx */, void *arg /* rcx */)
slp_test_with_sentinels:
    endbr64
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    sub rsp, OWN_SIZE
    stmxcsr [rsp + OWN_CALLER_CTL]
    fnstcw [rsp + OWN_CALLER_CTL + 4]
    mov [rsp + OWN_OUT], rsi
    ldmxcsr [rdi + REGS_CTL]
    fldcw [rdi + REGS_CTL + 4]
    mov rbx, [rdi + REGS_GPR + 0]
    mov rbp, [rdi + REGS_GPR + 8]
    mov r12, [rdi + REGS_GPR + 16]
    mov r13, [rdi + REGS_GPR + 24]
    mov r14, [rdi + REGS_GPR + 32]
    mov r15, [rdi + REGS_GPR + 40]
    mov rdi, rcx
    call rdx
    mov rax, [rsp + OWN_OUT]
    mov [rax + REGS_GPR + 0], rbx
    mov [rax + REGS_GPR + 8], rbp
    mov [rax + REGS_GPR + 16], r12
    mov [rax + REGS_GPR + 24], r13
    mov [rax + REGS_GPR + 32], r14
    mov [rax + REGS_GPR + 40], r15
    stmxcsr [rax + REGS_CTL]
    mov dword [rax + REGS_CTL + 4], 0       ; fnstcw writes 16 of the 32 bits
    fnstcw [rax + REGS_CTL + 4]
    ldmxcsr [rsp + OWN_CALLER_CTL]
    fldcw [rsp + OWN_CALLER_CTL + 4]
    add rsp, OWN_SIZE
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret
.end:

; void slp_test_entry_probe(slp_transfer t /* rdi, rsi */)
slp_test_entry_probe:
    endbr64
    mov [slp_test_entry_sp], rsp            ; as at entry: the return address is pushed
    jmp [slp_test_entry_target]
.end:

section .note.GNU-stack noalloc noexec nowrite progbits
