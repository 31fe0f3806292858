package dev.omnistitch.kafka;

import java.io.IOException;
import java.io.InputStream;

/**
 * Runs a Kafka broker (or a Kafka tool) whose life is tied to the process that started it.
 *
 * <p>With {@code -Domnistitch.watchStdin=true} a daemon thread reads standard input until end of file. The parent
 * holds the write end of that pipe; when the parent exits for any reason, SIGKILL included, the kernel closes it and
 * the broker shuts down through its ordinary shutdown hooks. This is what keeps a local broker from outliving a
 * crashed test run or a killed {@code npm start}.
 *
 * <p>Usage: {@code java -cp 'libs/*' dev.omnistitch.kafka.SupervisedKafka <main-class> [args...]}
 */
public final class SupervisedKafka {
  private SupervisedKafka() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: SupervisedKafka <main-class> [args...]");
      System.exit(2);
    }
    if (Boolean.getBoolean("omnistitch.watchStdin")) {
      Thread watcher = new Thread(SupervisedKafka::exitWhenParentGone, "omnistitch-parent-watch");
      watcher.setDaemon(true);
      watcher.start();
    }
    String[] rest = new String[args.length - 1];
    System.arraycopy(args, 1, rest, 0, rest.length);
    Class.forName(args[0]).getMethod("main", String[].class).invoke(null, (Object) rest);
  }

  private static void exitWhenParentGone() {
    InputStream in = System.in;
    byte[] buffer = new byte[256];
    try {
      while (in.read(buffer) >= 0) {
        // The parent never writes; anything read is ignored.
      }
    } catch (IOException ignored) {
      // A broken pipe means the same as end of file: the parent is gone.
    }
    System.err.println("omnistitch: parent process gone, stopping Kafka");
    System.exit(0);
  }
}
