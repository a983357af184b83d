export { httpGetUnix, httpUnix, type HttpResponse as HttpReply } from '../lab/http-unix.ts';
