; switch_x86_64_sysv_elf_nasm.asm — the slp switch routines for x86_64, System V ABI,
; ELF, NASM. Contract: arch/slp_arch.h.
;
; The saved frame. slp_jump, slp_ontop and slp_switch all push the same frame, and
; slp_make builds one by hand, so any of them can resume any other. A suspended
; context is the address of the frame's lowest word (its saved rsp):
;
;   offset  contents                      pushed by
;   ------  ----------------------------  --------------------------------------
;    +56    return address (resume rip)   the call into the routine
;    +48    rbp                           push rbp
;    +40    rbx                           push rbx
;    +32    r15                           push r15
;    +24    r14                           push r14
;    +16    r13                           push r13
;     +8    r12                           push r12
;     +4    x87 control word (16 bits)    fnstcw
;     +0    MXCSR (32 bits)               stmxcsr   <- the context points here
;
; Callee-saved in the SysV ABI and so saved here: rbx, rbp, r12-r15, rsp, MXCSR's
; control bits and the x87 control word (all of MXCSR is saved, so a context keeps its
; own sticky exception flags as a thread would). No xmm register is callee-saved.
;
; Resuming pops the return address and jumps to it (jmp, not ret): the return-stack
; predictor would guess the caller of this switch, which is the wrong context, while an
; indirect jump is predicted from its own history.

%include "cfi_nasm.inc"

default rel

%define FRAME_CTL     0       ; MXCSR at +0, x87 control word at +4
%define FRAME_X87CW   4
%define FRAME_R12     8
%define FRAME_RBP     48
%define FRAME_RET     56
%define FRAME_SIZE    64      ; the frame, return address included
%define FRAME_PUSHED  56      ; what the routine itself pushes (all but the return address)

; Bytes left unused above a fresh context's first frame: keeps the trampoline's CFA and
; anything an unwinder may peek at inside the stack.
%define MAKE_TOP_RESERVE 16

extern slp_arch_entry_returned

global slp_make:function (slp_make.end - slp_make)
global slp_jump:function (slp_jump.end - slp_jump)
global slp_ontop:function (slp_ontop.end - slp_ontop)
global slp_switch:function (slp_switch.end - slp_switch)

CFI_CIE

section .text

; Save the caller's callee-saved state as the frame above, with CFI for each push.
%macro SAVE_FRAME 0
    push rbp
    CFI_PUSH rbp
    push rbx
    CFI_PUSH rbx
    push r15
    CFI_PUSH r15
    push r14
    CFI_PUSH r14
    push r13
    CFI_PUSH r13
    push r12
    CFI_PUSH r12
    sub rsp, FRAME_R12                      ; room for the control words
    CFI_DEF_CFA_OFFSET FRAME_SIZE
    stmxcsr [rsp + FRAME_CTL]
    fnstcw [rsp + FRAME_X87CW]
%endmacro

; Reload the control words of the frame at rsp, unconditionally.
%macro LOAD_CONTROL_WORDS 0
    ldmxcsr [rsp + FRAME_CTL]
    fldcw [rsp + FRAME_X87CW]
%endmacro

; Keep the outgoing context's x87 control word in r9d for LOAD_CONTROL_WORDS_ON_RESUME,
; read BEFORE rsp moves: afterwards the outgoing frame may lie below rsp (two contexts
; on one stack), where a signal may overwrite it. The load matches fnstcw's store in
; size and address, so store forwarding serves it.
%macro KEEP_X87_CONTROL_WORD 0
    movzx r9d, word [rsp + FRAME_X87CW]
%endmacro

; Reload the control words of the frame at rsp on resume: MXCSR always, the x87 control
; word only where it differs from the one KEEP_X87_CONTROL_WORD kept. Why not compare
; MXCSR as well: reading back what stmxcsr has just stored stalls the switch longer than
; an ldmxcsr costs (measured on AMD Zen 4), while fnstcw's word is read back at once and
; fldcw costs more than the compare.
%macro LOAD_CONTROL_WORDS_ON_RESUME 0
    ldmxcsr [rsp + FRAME_CTL]
    cmp r9w, [rsp + FRAME_X87CW]
    je %%x87cw_same
    fldcw [rsp + FRAME_X87CW]
%%x87cw_same:
%endmacro

; Reload the registers of the frame at rsp (control words done already), leaving rsp at
; its return address. The CFA is rsp-relative, so the CFI stays right across the stack
; change that precedes this.
%macro LOAD_FRAME 0
    add rsp, FRAME_R12
    CFI_DEF_CFA_OFFSET FRAME_SIZE - FRAME_R12
    pop r12
    CFI_POP r12
    pop r13
    CFI_POP r13
    pop r14
    CFI_POP r14
    pop r15
    CFI_POP r15
    pop rbx
    CFI_POP rbx
    pop rbp
    CFI_POP rbp
%endmacro

; slp_ctx slp_make(void *stack_top /* rdi */, size_t size /* rsi */,
;                  void (*entry)(slp_transfer) /* rdx */)
; Builds a frame whose return address is the trampoline, whose r12 holds entry and whose
; rbp is zero; the control words are the caller's. size is not needed on x86_64.
slp_make:
    CFI_STARTPROC slp_make
    endbr64
    mov rax, rdi
    and rax, -16                            ; the trampoline runs with rsp % 16 == 0
    sub rax, MAKE_TOP_RESERVE + FRAME_SIZE  ; rax = the new context's frame
    lea rcx, [rel slp_trampoline]
    mov [rax + FRAME_RET], rcx
    xor ecx, ecx
    mov [rax + FRAME_RBP], rcx              ; zero frame pointer: frame walkers stop
    mov [rax + FRAME_RBP - 8], rcx          ; rbx
    mov [rax + FRAME_RBP - 16], rcx         ; r15
    mov [rax + FRAME_RBP - 24], rcx         ; r14
    mov [rax + FRAME_RBP - 32], rcx         ; r13
    mov [rax + FRAME_R12], rdx              ; r12 = entry, called by the trampoline
    stmxcsr [rax + FRAME_CTL]               ; inherit the caller's FP control state
    fnstcw [rax + FRAME_X87CW]
    ret
.end:
    CFI_ENDPROC slp_make

; slp_transfer slp_jump(slp_ctx to /* rdi */, void *data /* rsi */)
; Returns {from, data} in rax:rdx in the resumed context.
slp_jump:
    CFI_STARTPROC slp_jump
    endbr64
    SAVE_FRAME
    KEEP_X87_CONTROL_WORD
    mov rax, rsp                            ; from = our frame
    mov rsp, rdi                            ; the switch
    LOAD_CONTROL_WORDS_ON_RESUME
    LOAD_FRAME
    pop r8                                  ; resume address
    CFI_DEF_CFA_OFFSET 0
    mov rdx, rsi                            ; rax:rdx = {from, data}
    jmp r8
.end:
    CFI_ENDPROC slp_jump

; slp_transfer slp_ontop(slp_ctx to /* rdi */, void *data /* rsi */,
;                        slp_transfer (*fn)(slp_transfer) /* rdx */)
; Like slp_jump, but leaves the target's resume address on its stack as fn's return
; address and enters fn with {from, data}: fn's result (rax:rdx) is what the target sees.
slp_ontop:
    CFI_STARTPROC slp_ontop
    endbr64
    SAVE_FRAME
    KEEP_X87_CONTROL_WORD
    mov rax, rsp
    mov rsp, rdi
    LOAD_CONTROL_WORDS_ON_RESUME
    LOAD_FRAME
    mov rdi, rax                            ; fn({from, data}); rsi already holds data
    jmp rdx
.end:
    CFI_ENDPROC slp_ontop

; int slp_switch(slp_save_fn save /* rdi */, slp_restore_fn restore /* rsi */,
;                void *arg /* rdx */)
; Copy-stack switch: the frame is saved in place, save() moves the outgoing slice away
; and tells how far the incoming stack pointer is, restore() copies the incoming slice
; in. r12 and r13 carry restore and arg across the move: they are already in the frame.
slp_switch:
    CFI_STARTPROC slp_switch
    endbr64
    SAVE_FRAME                              ; rsp % 16 == 0 from here: calls are aligned
    mov r12, rsi
    mov r13, rdx
    mov rax, rdi
    mov rdi, rsp                            ; save(sp, arg) -> delta
    mov rsi, r13
    call rax
    add rsp, rax                            ; the incoming context's frame
    add rbp, rax                            ; keep a frame-pointer chain consistent
    mov rdi, r13
    call r12                                ; restore(arg)
    LOAD_CONTROL_WORDS                      ; the outgoing frame may be overwritten now
    LOAD_FRAME
    xor eax, eax
    ret
.end:
    CFI_ENDPROC slp_switch

; Where a fresh context starts: slp_jump/slp_ontop "return" here with the transfer in
; rax:rdx, rsp 16-byte aligned, rbp zero and r12 = entry. The CFI marks the return
; address undefined, so unwinders and gdb end the context's stack here.
slp_trampoline:
    CFI_STARTPROC slp_trampoline
    CFI_DEF_CFA_OFFSET 0
    CFI_UNDEFINED_RIP
    endbr64                                 ; reached by an indirect jump
    mov rdi, rax                            ; entry({from, data})
    mov rsi, rdx
    call r12
    call slp_arch_entry_returned wrt ..plt  ; entry must never return
    ud2
.end:
    CFI_ENDPROC slp_trampoline

section .note.GNU-stack noalloc noexec nowrite progbits
