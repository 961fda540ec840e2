// Launcher for the in-memory mongo-java-server (de.bwaldvogel:mongo-java-server-memory-backend),
// used by scripts/mongo-test-server.sh (MONGO_TEST_SERVER=java, the default).
//
// Usage: java -cp <classes>:<lib>/* MongoJavaTestServer [host] <port>
//
// Small compatibility shims for the Rust `mongodb` 3.x driver (and PyMongo 4.x):
//  * Reports MongoDB 6.0 / max wire version 17. mongo-java-server 1.47.0's newest built-in
//    version (ServerVersion.MONGO_5_0) reports max wire version 8, which both drivers refuse
//    ("requires at least 9 (MongoDB 4.4)"). The version is only echoed in isMaster/buildInfo;
//    it changes no server behaviour.
//  * Error replies always carry a numeric `code`. mongo-java-server answers some failures
//    without one (e.g. `drop` of a missing collection: {ok: 0, errmsg: "ns not found"}), and
//    the Rust driver then fails with "InvalidResponse ... missing field `code`" instead of
//    ignoring NamespaceNotFound (26). Other code-less errors become InternalError (1).
//  * Answers the `hello` command (as isMaster plus isWritablePrimary).
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.MongoServerError;
import de.bwaldvogel.mongo.exception.MongoServerException;
import de.bwaldvogel.mongo.wire.message.MongoMessage;

import java.util.List;
import java.util.Map;

public final class MongoJavaTestServer {

    private static final class CompatBackend extends MemoryBackend {
        @Override
        public Document handleMessage(MongoMessage message) {
            boolean hello = message.getDocument().containsKey("hello");
            if (hello) {
                Document rewritten = new Document();
                for (Map.Entry<String, Object> e : message.getDocument().entrySet()) {
                    rewritten.put(e.getKey().equals("hello") ? "isMaster" : e.getKey(), e.getValue());
                }
                message = new MongoMessage(message.getChannel(), message.getHeader(), rewritten);
            }
            try {
                Document reply = super.handleMessage(message);
                if (hello && reply != null) {
                    reply.put("isWritablePrimary", Boolean.TRUE);
                }
                return reply;
            } catch (MongoServerError e) {
                throw e;
            } catch (MongoServerException e) {
                String msg = e.getMessageWithoutErrorCode();
                if ("ns not found".equals(msg)) {
                    throw new MongoServerError(26, "NamespaceNotFound", msg);
                }
                throw new MongoServerError(1, "InternalError", msg);
            } catch (RuntimeException e) {
                throw new MongoServerError(1, "InternalError", "Unknown error: " + e);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        String host = args.length >= 2 ? args[0] : "127.0.0.1";
        int port = Integer.parseInt(args.length >= 2 ? args[1] : args[0]);

        MemoryBackend backend = new CompatBackend();
        backend.version(new MongoVersion() {
            @Override
            public List<Integer> getVersionArray() {
                return List.of(6, 0, 0);
            }

            @Override
            public int getWireVersion() {
                return 17;
            }
        });
        MongoServer server = new MongoServer(backend);
        server.bind(host, port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow, "mongo-java-server-shutdown"));
        System.err.println("mongo-java-server listening on " + host + ":" + port);
        Thread.currentThread().join();
    }
}
