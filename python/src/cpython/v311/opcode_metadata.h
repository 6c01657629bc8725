/* v311/opcode_metadata.h — 3.11's headers define no opcode tables a module can compile
   (v311/opcodes.hpp names its opcodes from <opcode.h>). */
typedef int slp_no_opcode_tables_on_3_11;
