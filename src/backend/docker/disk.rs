//! Size-limited data disks on docker: a member's data volume is a tmpfs of
//! the local volume driver (`type=tmpfs, o=size=<N>m`), so a "disk full"
//! fault fills that tmpfs and never the host's disk. The fault writes the
//! same ballast file as the local backend's ([`crate::backend::local::disk::BALLAST`])
//! from the volume's holder container, with the image's own `dd`.

use std::collections::HashMap;

use crate::backend::local::disk::BALLAST;

/// What a script prints last when it succeeded.
pub const DONE: &str = "zkchaos-done";

/// Where the holder container mounts the volume.
pub const HOLDER_MOUNT: &str = "/disk";

/// The local driver's options for a tmpfs volume of `mb` MiB.
pub fn volume_options(mb: u32) -> HashMap<String, String> {
    [("type", "tmpfs".to_string()), ("device", "tmpfs".to_string()), ("o", format!("size={mb}m"))]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// The script that fills the disk (until `dd` meets ENOSPC, which is the
/// point, so its status is not checked) and prints the ballast's size.
pub fn fill_script() -> String {
    let ballast = format!("{HOLDER_MOUNT}/{BALLAST}");
    format!(
        "test -d {HOLDER_MOUNT} || exit 3; dd if=/dev/zero of={ballast} bs=1M oflag=append conv=notrunc 2>/dev/null; sync; stat -c %s {ballast} && echo {DONE}"
    )
}

/// The script that removes the ballast (gone already is fine).
pub fn free_script() -> String {
    format!("rm -f {HOLDER_MOUNT}/{BALLAST} && echo {DONE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_volume_is_a_tmpfs_of_the_asked_size() {
        let o = volume_options(64);
        assert_eq!(o["type"], "tmpfs");
        assert_eq!(o["device"], "tmpfs");
        assert_eq!(o["o"], "size=64m");
    }

    #[test]
    fn the_scripts_touch_only_the_ballast_on_the_holders_mount() {
        let fill = fill_script();
        assert!(fill.contains(&format!("of=/disk/{BALLAST}")), "{fill}");
        assert!(fill.ends_with(&format!("stat -c %s /disk/{BALLAST} && echo {DONE}")), "{fill}");
        assert_eq!(free_script(), format!("rm -f /disk/{BALLAST} && echo {DONE}"));
    }
}
