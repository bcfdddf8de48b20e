#!/bin/sh
# patch add/show: the functions a patch touches come from hunk headers and
# from definitions inside the hunks (git leaves the header empty, or names
# the previous function, when a hunk starts at a function's first line).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/fixtures.sh"

q() { sqlite3 "$DB" "$1"; }
funcs() { q "SELECT group_concat(function, ' ') FROM (SELECT function FROM patch_functions WHERE patch_id = (SELECT id FROM patches WHERE name = '$1') ORDER BY rowid)"; }

# git diff of a fix at the top of the file: the hunk header is empty
cat > "$T/top.patch" <<'PATCH'
diff --git a/fs/proc/cmdline.c b/fs/proc/cmdline.c
--- a/fs/proc/cmdline.c
+++ b/fs/proc/cmdline.c
@@ -5,7 +5,7 @@
 
 static int cmdline_proc_show(struct seq_file *m, void *v)
 {
-	seq_puts(m, saved_command_line);
+	seq_puts(m, "");
 	seq_putc(m, '\n');
 	return 0;
 }
PATCH
elp patch add "$T/top.patch" > /dev/null 2>&1
check "a hunk starting at the definition names its function" test "$(funcs top)" = cmdline_proc_show
elp patch show top > "$T/out"
check "...and patch show lists it" grep -q "functions: cmdline_proc_show$" "$T/out"

# the header names the previous function, whose end is in the hunk's context;
# a signature split over two lines, a new function, and a comment between functions
cat > "$T/shapes.patch" <<'PATCH'
--- a/fs/proc/base.c
+++ b/fs/proc/base.c
@@ -20,10 +20,10 @@ static int old_neighbour(struct task_struct *t)
 	return 0;
 }
 
 static int proc_pid_cmdline_read(struct file *file, char __user *buf,
 				 size_t count, loff_t *pos)
 {
-	return 0;
+	return -EINVAL;
 }
 
 static const struct file_operations proc_pid_cmdline_ops = {
@@ -60,6 +60,12 @@ static int proc_pid_cmdline_read(struct file *file, char __user *buf,
 	.llseek	= generic_file_llseek,
 };
 
+/* a comment, outside any function */
+static int __init new_helper(void)
+{
+	return 1;
+}
+
 SYSCALL_DEFINE1(getpid_nr, int, nr)
 {
 	return nr;
@@ -80,4 +86,4 @@ SYSCALL_DEFINE1(getpid_nr, int, nr)
 {
 	int a;
-	a = 1;
+	a = 2;
 	return a;
PATCH
elp patch add "$T/shapes.patch" > /dev/null 2>&1
check "definitions inside hunks, not the previous function; a header function still counts" \
	test "$(funcs shapes)" = "proc_pid_cmdline_read new_helper __do_sys_getpid_nr"

# a change between functions (a struct initialiser after a closing brace) names none
cat > "$T/data.patch" <<'PATCH'
--- a/fs/proc/base.c
+++ b/fs/proc/base.c
@@ -20,6 +20,6 @@ static int old_neighbour(struct task_struct *t)
 	return 0;
 }
 
 static const struct file_operations ops = {
-	.read = a,
+	.read = b,
 };
PATCH
elp patch add "$T/data.patch" > /dev/null 2>&1
check "a change after the header function's closing brace names no function" test "$(funcs data)" = ""
elp patch show data > "$T/out"
check "...patch show says so" sh -c '! grep -q "functions:" "$1"' - "$T/out"

# a function deleted whole: it is named, and a later change outside any function is not
cat > "$T/gone.patch" <<'PATCH'
--- a/fs/proc/base.c
+++ b/fs/proc/base.c
@@ -30,10 +30,5 @@ static int old_neighbour(struct task_struct *t)
 }
 
-static int unused_helper(void)
-{
-	return 0;
-}
-
 static const struct file_operations ops = {
-	.read = a,
+	.read = b,
 };
PATCH
elp patch add "$T/gone.patch" > /dev/null 2>&1
check "a deleted function is named; a change after its closing brace is not its" test "$(funcs gone)" = unused_helper

t_done
