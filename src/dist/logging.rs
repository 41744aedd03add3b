//! The logging backend a classpath binds slf4j to, and a config for it that
//! writes the server log to `${zookeeper.log.dir}/${zookeeper.log.file}`
//! (INFO and up) and only warnings and errors to the console.
//!
//! Debian's ZooKeeper packages bind slf4j to log4j 1.2 (`slf4j-log4j12` +
//! `log4j-1.2.jar`); upstream 3.8/3.9 tarballs ship logback.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::DistError;

/// An slf4j backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoggingBackend {
    /// log4j 1.2 (or reload4j) via `slf4j-log4j12` / `slf4j-reload4j`.
    Log4j1,
    /// logback-classic.
    Logback,
}

const LOG4J1_CONFIG: &str = "\
# written by zk-chaos: the server log goes to ${zookeeper.log.dir}/${zookeeper.log.file},
# only warnings and errors go to the console.
log4j.rootLogger=INFO, FILE, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Threshold=WARN
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
log4j.appender.FILE=org.apache.log4j.RollingFileAppender
log4j.appender.FILE.File=${zookeeper.log.dir}/${zookeeper.log.file}
log4j.appender.FILE.MaxFileSize=10MB
log4j.appender.FILE.MaxBackupIndex=5
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
";

// No <property> elements: a local property would shadow the -D system
// property of the same name in logback.
const LOGBACK_CONFIG: &str = r#"<!-- written by zk-chaos: the server log goes to ${zookeeper.log.dir}/${zookeeper.log.file},
     only warnings and errors go to the console. -->
<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n</pattern>
    </encoder>
    <filter class="ch.qos.logback.classic.filter.ThresholdFilter">
      <level>WARN</level>
    </filter>
  </appender>
  <appender name="FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>${zookeeper.log.dir:-.}/${zookeeper.log.file:-zookeeper.log}</file>
    <encoder>
      <pattern>%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n</pattern>
    </encoder>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <maxIndex>5</maxIndex>
      <fileNamePattern>${zookeeper.log.dir:-.}/${zookeeper.log.file:-zookeeper.log}.%i</fileNamePattern>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>10MB</maxFileSize>
    </triggeringPolicy>
  </appender>
  <root level="INFO">
    <appender-ref ref="FILE" />
    <appender-ref ref="CONSOLE" />
  </root>
</configuration>
"#;

impl LoggingBackend {
    /// The backend a classpath binds to, from jar file names. logback wins
    /// when both are present (upstream's choice since 3.8).
    pub fn detect(classpath: &[PathBuf]) -> Option<Self> {
        let names: Vec<String> = classpath
            .iter()
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_ascii_lowercase))
            .collect();
        if names.iter().any(|n| n.starts_with("logback-classic")) {
            Some(LoggingBackend::Logback)
        } else if names.iter().any(|n| n.starts_with("slf4j-log4j12") || n.starts_with("slf4j-reload4j")) {
            Some(LoggingBackend::Log4j1)
        } else {
            None
        }
    }

    /// The config file name for this backend.
    pub fn config_file_name(self) -> &'static str {
        match self {
            LoggingBackend::Log4j1 => "log4j.properties",
            LoggingBackend::Logback => "logback.xml",
        }
    }

    /// The config file body.
    pub fn config_text(self) -> &'static str {
        match self {
            LoggingBackend::Log4j1 => LOG4J1_CONFIG,
            LoggingBackend::Logback => LOGBACK_CONFIG,
        }
    }

    /// JVM flags that make the backend read `config`.
    pub fn jvm_args(self, config: &Path) -> Vec<OsString> {
        match self {
            LoggingBackend::Log4j1 => {
                let mut a = OsString::from("-Dlog4j.configuration=file:");
                a.push(config.as_os_str());
                // Stop log4j from registering its JMX beans (and looking
                // for a log4j.properties elsewhere).
                vec![a, "-Dzookeeper.jmx.log4j.disable=true".into()]
            }
            LoggingBackend::Logback => {
                let mut a = OsString::from("-Dlogback.configurationFile=");
                a.push(config.as_os_str());
                vec![a]
            }
        }
    }

    /// Write the config into `dir` (atomically; same content every time)
    /// and return its path.
    pub fn write_config(self, dir: &Path) -> Result<PathBuf, DistError> {
        let path = dir.join(self.config_file_name());
        if std::fs::read_to_string(&path).is_ok_and(|t| t == self.config_text()) {
            return Ok(path);
        }
        super::cache::write_atomic(&path, self.config_text().as_bytes())?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_backend() {
        let cp = |names: &[&str]| names.iter().map(|n| PathBuf::from(format!("/x/{n}"))).collect::<Vec<_>>();
        assert_eq!(LoggingBackend::detect(&cp(&["slf4j-api.jar", "slf4j-log4j12.jar"])), Some(LoggingBackend::Log4j1));
        assert_eq!(
            LoggingBackend::detect(&cp(&["slf4j-api-1.7.30.jar", "logback-classic-1.2.10.jar"])),
            Some(LoggingBackend::Logback)
        );
        assert_eq!(LoggingBackend::detect(&cp(&["slf4j-api.jar"])), None);
    }

    #[test]
    fn configs_use_the_log_properties() {
        for b in [LoggingBackend::Log4j1, LoggingBackend::Logback] {
            assert!(b.config_text().contains("${zookeeper.log.dir"), "{b:?}");
            assert!(b.config_text().contains("${zookeeper.log.file"), "{b:?}");
        }
    }
}
